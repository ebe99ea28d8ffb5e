"""Lipsync (Wav2Lip) on a random-weight generator built and saved at test time in the release layout
({"state_dict": {"module.<name>": tensor}}): the published architecture and its parameter names,
Wav2Lip's mel features, a drawn face found by OpenCV's Haar cascade, the mouth redrawn and
pasted back (nothing outside the face box touched), the sound attached, progress, cancellation,
one load per process, and clear errors for bad checkpoints, pickled objects and faceless video."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from nodegraph.context import CancelToken, Context
from nodegraph.errors import Cancelled
from nodegraph.models import ModelError, shared_cache
from nodegraph.types import Audio, Image, Speech, Video
from nodes import _wav2lip as w2l
from nodes.wav2lip import source_index, wav2lip
from tinywav2lip import calibrated_generator, save_release_checkpoint

FPS = 25
W, H = 224, 224
FACE_W, FACE_H, FACE_Y = 160, 192, 16
N_VIDEO = 10


def drawn_face(w: int = FACE_W, h: int = FACE_H) -> np.ndarray:
    """A face OpenCV's bundled detector finds: dark eyes and brows, nose, mouth on a light oval."""
    g = np.full((h, w), 120, np.uint8)
    cx, cy = w // 2, h // 2
    cv2.ellipse(g, (cx, cy), (int(w * 0.36), int(h * 0.42)), 0, 0, 360, 200, -1)
    for dx in (-1, 1):
        cv2.ellipse(g, (cx + dx * int(w * 0.14), cy - int(h * 0.08)), (int(w * 0.07), int(h * 0.035)), 0, 0, 360, 30, -1)
        cv2.line(g, (cx + dx * int(w * 0.06), cy - int(h * 0.16)), (cx + dx * int(w * 0.22), cy - int(h * 0.17)), 30, 6)
    cv2.line(g, (cx, cy - int(h * 0.02)), (cx, cy + int(h * 0.08)), 160, 4)
    cv2.ellipse(g, (cx, cy + int(h * 0.18)), (int(w * 0.12), int(h * 0.03)), 0, 0, 360, 50, -1)
    g = cv2.GaussianBlur(g, (0, 0), 2.5)
    return np.stack([g, (g * 0.85).astype(np.uint8), (g * 0.75).astype(np.uint8)], axis=2)


def face_x(i: int) -> int:
    return 20 + (i % N_VIDEO)   # the face drifts right one pixel a frame


def face_frames() -> list[np.ndarray]:
    face = drawn_face()
    frames = []
    for i in range(N_VIDEO):
        f = np.full((H, W, 3), (70, 90, 110), np.uint8)
        f[FACE_Y:FACE_Y + FACE_H, face_x(i):face_x(i) + FACE_W] = face
        frames.append(f)
    return frames


def speechy(seconds: float, rate: int, silent_until: float = 0.0) -> Audio:
    """A voiced-sounding signal (harmonics of a gliding pitch, syllable-like loudness)."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 40 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    x *= 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    x[t < silent_until] = 0.0
    return Audio((0.3 * x / np.abs(x).max()).astype(np.float32), rate)


def haar_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """The face box (x, y, w, h) of OpenCV's default frontal-face cascade."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    found = cascade.detectMultiScale(grey, 1.1, 5, minSize=(24, 24))
    assert len(found), "the test face is not found"
    return tuple(int(v) for v in max(found, key=lambda b: b[2] * b[3]))


def context(tmp_path, events: list, token: CancelToken | None = None) -> Context:
    return Context("talk", "lipsync.wav2lip", output_dir=tmp_path / "out", base_dir=tmp_path, cancel=token,
                   emit=lambda kind, data: events.append((kind, data)))


BOOM: list = []


def _boom() -> None:  # what unpickling a hostile file would run
    BOOM.append("ran")


class Hostile:
    def __reduce__(self):
        return (_boom, ())


# -- fixtures ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generator_sd() -> dict:
    return calibrated_generator()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, generator_sd):
    return save_release_checkpoint(generator_sd, tmp_path_factory.mktemp("wav2lip") / "wav2lip_gan.pth")


@pytest.fixture(scope="module")
def video() -> Video:
    return Video.from_frames(face_frames(), FPS)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, checkpoint, video):
    """The node on 10 frames of a face and 0.6 s of 22.05 kHz speech (15 frames: the video loops)."""
    tmp = tmp_path_factory.mktemp("run")
    events: list = []
    sound = speechy(0.6, 22050)
    speech = Speech(sound, "hello", "en")
    out = wav2lip(video, speech, str(checkpoint), ctx=context(tmp, events))
    return out, sound, events


# -- the network ---------------------------------------------------------------------------------------

def test_generator_has_the_published_layout_and_names():
    model = w2l.Wav2Lip()
    assert abs(w2l.parameter_count(model) - 36.3e6) < 0.05e6 and w2l.parameter_count(model) == w2l.PARAMETERS
    sd = model.state_dict()
    shapes = {"face_encoder_blocks.0.0.conv_block.0.weight": (16, 6, 7, 7),
              "face_encoder_blocks.6.1.conv_block.1.running_var": (512,),
              "audio_encoder.0.conv_block.0.weight": (32, 1, 3, 3),
              "audio_encoder.12.conv_block.0.weight": (512, 512, 1, 1),
              "face_decoder_blocks.1.0.conv_block.0.weight": (1024, 512, 3, 3),   # transposed conv: (in, out, k, k)
              "face_decoder_blocks.6.0.conv_block.0.weight": (160, 64, 3, 3),
              "output_block.0.conv_block.0.weight": (32, 80, 3, 3),
              "output_block.1.weight": (3, 32, 1, 1)}
    for k, shape in shapes.items():
        assert tuple(sd[k].shape) == shape, k
    assert len(sd) == 352
    with torch.inference_mode():
        y = model.eval()(torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96))
    assert y.shape == (2, 3, 96, 96) and 0 <= float(y.min()) and float(y.max()) <= 1


def test_mel_is_wav2lips():
    one_second = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32) * 0.5
    mel = w2l.melspectrogram(one_second)
    assert mel.shape == (80, 81) and mel.dtype == np.float32
    assert -4 <= mel.min() and mel.max() <= 4
    assert w2l.audio_mel(speechy(1.0, 44100).samples, 44100).shape == (80, 81)   # resampled to 16 kHz
    assert (w2l.melspectrogram(np.zeros(8000)) == -4).all()                      # silence: the floor
    # the tone lands in the band around 440 Hz
    centres = w2l.mel_to_hz(np.linspace(w2l.hz_to_mel(55), w2l.hz_to_mel(7600), 82))[1:-1]
    assert abs(centres[int(np.argmax(mel[:, 40]))] - 440) < 40
    # Slaney mel scale and filters of unit area (librosa's defaults)
    assert float(w2l.hz_to_mel(1000)) == pytest.approx(15.0) and float(w2l.hz_to_mel(200)) == pytest.approx(3.0)
    assert float(w2l.mel_to_hz(w2l.hz_to_mel(3456.0))) == pytest.approx(3456.0)
    fb = w2l.mel_filterbank()
    assert fb.shape == (80, 401) and (fb >= 0).all()
    area = fb.sum(axis=1) * (16000 / 800)
    assert np.allclose(area[20:], 1.0, atol=0.03)
    # one 16-column window per video frame, stepping 80 / fps columns
    win = w2l.mel_windows(mel, 25, 25)
    assert win.shape == (25, 80, 16)
    assert (win[5] == mel[:, 12:28]).all() and (win[0] == mel[:, :16]).all() and (win[24] == mel[:, -16:]).all()
    assert w2l.mel_windows(mel[:, :5], 2, 25).shape == (2, 80, 16)   # shorter than a window: padded with silence


def test_video_is_extended_to_the_sound():
    assert [source_index(i, 4, "loop") for i in range(9)] == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    assert [source_index(i, 4, "bounce") for i in range(9)] == [0, 1, 2, 3, 2, 1, 0, 1, 2]
    assert [source_index(i, 4, "hold") for i in range(6)] == [0, 1, 2, 3, 3, 3]
    assert [source_index(i, 1, "bounce") for i in range(3)] == [0, 0, 0]


def test_missed_faces_are_filled_in_short_gaps_and_boxes_padded():
    def b(x):
        return np.array([x, 0.0, x + 10.0, 10.0])

    filled, long_runs = w2l.fill_gaps([None, b(0), None, b(4), None, None, None, b(8), None], max_gap=2)
    assert (filled[0] == b(0)).all() and (filled[2] == b(2)).all() and (filled[8] == b(8)).all()
    assert filled[4] is None and filled[6] is None and long_runs == [(4, 6)]
    assert w2l.fill_gaps([None, None], 5) == ([None, None], [(0, 1)])
    # chin (+10 % of the height), pads (top, bottom, left, right), clipped to the frame
    assert w2l.finish_boxes([np.array([10.0, 20.0, 50.0, 60.0])], 100, 70, (0, 10, 0, 0), 5) == [(10, 20, 50, 70)]
    assert w2l.finish_boxes([np.array([10.0, 20.0, 50.0, 40.0])], 100, 70, (5, 0, 3, 4), 5) == [(7, 15, 54, 42)]
    # smoothing averages neighbours, never across a frame without a face
    boxes = w2l.finish_boxes([b(0), b(3), b(6), None, b(30)], 100, 100, (0, 0, 0, 0), 3)
    assert boxes[1] == (3, 0, 13, 11) and boxes[3] is None and boxes[4] == (30, 0, 40, 11)


# -- the node ---------------------------------------------------------------------------------------------

def test_a_face_gets_a_new_mouth_and_the_sound(first_run, video):
    out, sound, events = first_run
    assert out.n_frames == math.ceil(0.6 * FPS) == 15
    assert (out.width, out.height, out.fps) == (W, H, FPS) and not out.alpha
    assert out.audio is sound
    for i in range(out.n_frames):
        f, src = out.frame(i), video.frame(i % N_VIDEO)          # the video loops under the longer sound
        assert f.shape == (H, W, 3) and f.dtype == np.uint8
        x = face_x(i)
        fx, fy, fw, fh = haar_box(src)
        assert abs(fx + fw / 2 - (x + FACE_W / 2)) < 12                       # the detector finds the drawn face
        outside = np.ones((H, W), bool)                                     # its box, chin and pads, 4 px to spare
        outside[max(0, fy - 4):fy + int(fh * 1.1) + 10 + 4, max(0, fx - 4):fx + fw + 4] = False
        assert (f[outside] == src[outside]).all(), f"frame {i}: pixels outside the face box changed"
        assert (f[:fy + int(0.4 * fh)] == src[:fy + int(0.4 * fh)]).all(), f"frame {i}: the eyes changed"
        mouth = (slice(FACE_Y + 120, FACE_Y + 142), slice(x + 55, x + 105))    # the drawn mouth
        assert np.abs(f[mouth].astype(int) - src[mouth]).mean() > 5, f"frame {i}: the mouth did not change"
    assert out.key(3) != out.key(13) and out.key(3) == out.key(3)
    progress = [d for k, d in events if k == "progress"]
    fractions = [d["fraction"] for d in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("lipsync: frame 15/15" in d["message"] for d in progress)
    assert any(k == "log" and "loaded wav2lip_gan.pth" in d["message"] for k, d in events)


def test_the_sound_drives_the_mouth_and_the_model_loads_once(first_run, checkpoint, tmp_path):
    photo = Video.from_image(Image(face_frames()[0]), FPS)                   # a photo: held for the whole line
    cache = shared_cache()
    loads = cache.loads
    events: list = []
    out = wav2lip(photo, speechy(0.8, 16000, silent_until=0.4), str(checkpoint), extend="hold",
                  ctx=context(tmp_path, events))
    assert cache.loads == loads, "the generator was loaded again"
    assert not any(k == "log" and "loaded" in d["message"] for k, d in events)
    assert any(key[1:] == ("wav2lip", "cpu", "float32") for key in cache.keys() if isinstance(key, tuple))
    assert out.n_frames == 20
    mouth = (slice(FACE_Y + 110, FACE_Y + 150), slice(60, 140))
    quiet = [out.frame(i)[mouth].astype(int) for i in (1, 2)]
    loud = out.frame(15)[mouth].astype(int)
    assert (quiet[0] == quiet[1]).all()                                      # the same silence, the same mouth
    assert np.abs(loud - quiet[0]).mean() > 3                                # speech moves it


def test_cancel_stops_between_batches(checkpoint, video, tmp_path):
    token = CancelToken()
    events: list = []

    def emit(kind, data):
        events.append((kind, data))
        if kind == "progress" and data["message"].startswith("lipsync"):
            token.cancel()

    ctx = Context("talk", "lipsync.wav2lip", output_dir=tmp_path, base_dir=tmp_path, cancel=token, emit=emit)
    with pytest.raises(Cancelled):
        wav2lip(video, speechy(0.4, 16000), str(checkpoint), ctx=ctx)


def test_a_video_without_a_face_is_a_clear_error(checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    blank = Video.from_frames([rng.integers(100, 140, (120, 160, 3), dtype=np.uint8) for _ in range(4)], FPS)
    with pytest.raises(ValueError, match=r"no face found in video \(input of node 'talk'\) frame 0"):
        wav2lip(blank, speechy(0.3, 16000), str(checkpoint), ctx=context(tmp_path, []))


def test_a_checkpoint_that_is_not_wav2lip_is_refused(video, generator_sd, tmp_path):
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"module.fc.weight": torch.zeros(4, 4)}}, other)
    with pytest.raises(ModelError, match=r"other\.pth: not a Wav2Lip checkpoint: 302 of the generator's 302 tensors missing"):
        wav2lip(video, speechy(0.2, 16000), str(other), ctx=context(tmp_path, []))
    disc = tmp_path / "disc.pth"
    torch.save({"module.binary_pred.0.weight": torch.zeros(1, 512, 1, 1)}, disc)
    with pytest.raises(ModelError, match="disc.pth: not a Wav2Lip checkpoint .*visual-quality discriminator"):
        w2l.load_generator(disc)
    wrong = dict(generator_sd)
    wrong["output_block.1.weight"] = torch.zeros(3, 16, 1, 1)
    with torch.device("meta"):
        probe = w2l.Wav2Lip()
    with pytest.raises(ModelError, match=r"x\.pth: not a Wav2Lip checkpoint: 1 with the wrong shape "
                                         r"\(e\.g\. output_block\.1\.weight \(3, 16, 1, 1\) \(expected \(3, 32, 1, 1\)\)"):
        w2l.check_state_dict(probe, wrong, "x.pth")
    html = tmp_path / "wav2lip.pth"
    html.write_text("<!DOCTYPE html><html>Sign in</html>")
    with pytest.raises(ModelError, match="wav2lip.pth: not a readable PyTorch checkpoint"):
        w2l.load_generator(html)


def test_pickled_objects_are_refused_not_run(video, tmp_path):
    path = tmp_path / "wav2lip_evil.pth"
    torch.save({"state_dict": {"module.fc.weight": torch.zeros(2)}, "payload": Hostile()}, path)
    with pytest.raises(ModelError, match=r"wav2lip_evil\.pth: refused: .*weights-only"):
        wav2lip(video, speechy(0.2, 16000), str(path), ctx=context(tmp_path, []))
    assert BOOM == []


def test_a_missing_model_says_where_to_put_it(video, tmp_path):
    with pytest.raises(ModelError, match="wav2lip_gan.pth .*'wav2lip' folder"):
        wav2lip(video, speechy(0.2, 16000), "wav2lip_gan", ctx=context(tmp_path, []))


def test_node_declaration():
    spec = wav2lip.__nodegraph__
    assert (spec.id, spec.title, spec.category) == ("lipsync.wav2lip", "Lipsync (Wav2Lip)", "Character")
    assert spec.determinism == "reads-files" and spec.cost == "gpu"
    ports = {p.name: p for p in spec.inputs}
    assert ports["video"].type.id == "video" and ports["audio"].type.id == "audio"
    assert ports["model"].type.opts["kind"] == "model:wav2lip" and ports["model"].default == "wav2lip_gan"
    assert [o.type.id for o in spec.outputs] == ["video"]
