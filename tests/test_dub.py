"""The dub template end to end on tiny random-weight models built at test time: a film of a drawn
face speaking (espeak) -> transcribe (Whisper) -> translate (Marian en->fr) -> the speaker's cloned
voice at the cues' times (XTTS-v2) -> Wav2Lip -> an MP4 with the new sound track, plus subtitles."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from nodegraph import Audio, Context, Video

ROOT = Path(__file__).resolve().parent.parent
FPS = 10


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from tinycoqui import build_xtts
    from tinyspeech import build_marian, build_whisper
    from tinywav2lip import calibrated_generator, save_release_checkpoint

    root = tmp_path_factory.mktemp("dub-models")
    return {"whisper": build_whisper(root / "whisper"),
            "marian": build_marian(root / "marian", "en", "fr"),
            "xtts": build_xtts(root / "xtts"),
            "wav2lip": save_release_checkpoint(calibrated_generator(), root / "wav2lip_gan.pth")}


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> Path:
    """2.5 s of a drawn face at 10 fps saying a line (espeak), as an H.264/AAC MP4."""
    from test_wav2lip import face_frames
    from nodes import _espeak
    from nodes.media import save_mp4

    folder = tmp_path_factory.mktemp("film")
    pcm, rate, _, _ = _espeak.synthesize("Hello, my name is Ana. Thank you very much.", "en+f3")
    voice = np.zeros(int(2.5 * rate), np.float32)
    said = pcm.astype(np.float32)[: len(voice) - int(0.2 * rate)] / 32768.0
    voice[int(0.2 * rate):int(0.2 * rate) + len(said)] = said
    frames = face_frames()
    video = Video.from_frames([frames[i % len(frames)] for i in range(25)], FPS).with_audio(Audio(voice, rate))
    ctx = Context("film", "video.save_mp4", output_dir=folder, base_dir=folder)
    save_mp4(video, "film.mp4", ctx=ctx)
    return folder / "film.mp4"


def test_the_dub_template_runs_end_to_end_on_tiny_models(models, film, tmp_path):
    out = tmp_path / "out"
    sets = {"film.path": film, "transcribe.model": models["whisper"], "translate.model": models["marian"],
            "dub.model": models["xtts"], "lips.model": models["wav2lip"], "dub.device": "cpu", "lips.device": "cpu"}
    args = [arg for k, v in sets.items() for arg in ("--set", f"{k}={v}")]
    env = dict(os.environ, NODEGRAPH_CACHE_DIR=str(tmp_path / "cache"))
    p = subprocess.run([sys.executable, "-m", "nodegraph", "run", "graphs/dub.json", "-o", str(out), "-q",
                        "--report", str(tmp_path / "report.json"), *args], capture_output=True, text=True, env=env,
                       cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    counts = json.loads((tmp_path / "report.json").read_text())["counts"]
    assert counts["failed"] == 0 and counts["computed"] == 9
    with av.open(str(out / "dub.mp4")) as f:
        kinds = [s.type for s in f.streams]
        assert kinds == ["video", "audio"]
        assert float(f.duration / 1_000_000) >= 2.4
        sound = np.concatenate([fr.to_ndarray().reshape(-1) for fr in f.decode(audio=0)])
    with av.open(str(film)) as f:
        original = np.concatenate([fr.to_ndarray().reshape(-1) for fr in f.decode(audio=0)])
    n = min(len(sound), len(original))
    assert np.abs(sound).max() > 0.01                                       # a new voice is there...
    assert np.abs(sound[:n] - original[:n]).mean() > 0.01                   # ...and it is not the original
    from nodes.speech import read_subtitles

    dubbed = read_subtitles(out / "dub.fr.srt")
    source = read_subtitles(out / "original.srt")
    assert len(dubbed.cues) == len(source.cues) >= 1
    assert [c[:2] for c in dubbed.cues] == [c[:2] for c in source.cues]     # translation keeps the timings
