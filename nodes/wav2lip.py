"""Lipsync with a neural network: Wav2Lip redraws the lower face of a filmed (or photographed) person
so the mouth follows any speech, in any language or voice.

The weights are the user's own ``wav2lip_gan.pth`` (sharper) or ``wav2lip.pth`` from the Wav2Lip
release, loaded once per process into our own implementation of the published generator
(``nodes/_wav2lip.py``), with weights-only unpickling (a checkpoint never runs code). Faces are
found with OpenCV's bundled Haar cascades (nothing is downloaded). The generated mouths are kept
as small 96x96 patches; output frames are the input frames with their patch pasted in, made when
pulled, so a long video never sits in memory.
"""
from __future__ import annotations

import importlib.util
import struct
from pathlib import Path as FsPath

import blake3
import numpy as np

from nodegraph import (Audio, Choice, Context, Int, ModelError, ModelNotFound, Models, Path, Speech, UnsupportedModel,
                       ValueError_, Video, node)

Wav2LipRef = Path(kind="model:wav2lip")
Pad = Int(min=0, max=1000)
Device = Choice("auto", "cpu", "cuda", "mps")
Extend = Choice("loop", "bounce", "hold")
CHECKPOINT_NAMES = ("wav2lip_gan.pth", "wav2lip.pth", "wav2lip_gan.pt", "wav2lip.pt", "wav2lip_gan.safetensors",
                    "wav2lip.safetensors")
WHERE = ("the Wav2Lip weights are wav2lip_gan.pth (sharper) or wav2lip.pth from the Wav2Lip authors' release; "
         "put one in a 'wav2lip' folder under a model root (NODEGRAPH_MODELS), or give its path")


def checkpoint_file(models: Models, ref: str):
    """The resolved checkpoint file for a model reference (a folder holding one is accepted)."""
    try:
        m = models.resolve(ref, "wav2lip")
    except ModelNotFound as e:
        raise type(e)(f"{e}; {WHERE}") from None
    if m.format == "hub":
        m = models.download(m)
    if m.path is not None and m.path.is_dir():
        named = [m.path / n for n in CHECKPOINT_NAMES] + [m.path / "checkpoints" / n for n in CHECKPOINT_NAMES]
        found = next((p for p in named if p.is_file()), None)
        if found is None:
            files = sorted(p for p in m.path.rglob("*") if p.suffix.lower() in (".pth", ".pt", ".safetensors"))
            if len(files) != 1:
                raise UnsupportedModel(f"{m.path}: a folder with {'no' if not files else len(files)} weight files; "
                                       f"give the Wav2Lip checkpoint file itself (wav2lip_gan.pth or wav2lip.pth)")
            found = files[0]
        m = models.resolve(str(found), "wav2lip")
    if m.path is None or not m.path.is_file():
        raise UnsupportedModel(f"{ref}: not a Wav2Lip checkpoint file; {WHERE}")
    return m


def load_model(models: Models, m, device: str, dtype: str, ctx: Context | None):
    """The generator for a resolved checkpoint, shared by every node of the process."""
    from nodes import _wav2lip

    loads = models.cache.loads
    key = (m.digest(), "wav2lip", device, dtype)
    size = _wav2lip.PARAMETERS * (4 if dtype == "float32" else 2)
    model = models.load(key, lambda: _wav2lip.load_generator(m.path, device, dtype), size=size)
    if ctx is not None and models.cache.loads > loads:
        ctx.log(f"loaded {m.path.name} (Wav2Lip) on {device} as {dtype}")
    return model


def source_index(i: int, n_video: int, extend: str) -> int:
    """The input frame behind output frame ``i`` when the sound outlasts the video."""
    if i < n_video:
        return i
    if extend == "hold":
        return n_video - 1
    if extend == "bounce" and n_video > 1:
        period = 2 * (n_video - 1)
        k = i % period
        return k if k < n_video else period - k
    return i % n_video


@node("lipsync.wav2lip", title="Lipsync (Wav2Lip)", category="Character", determinism="reads-files", cost="gpu")
def wav2lip(video: Video, audio: Audio, model: Wav2LipRef = "wav2lip_gan",
            extend: Extend = "loop",
            pad_top: Pad = 0, pad_bottom: Pad = 10, pad_left: Pad = 0, pad_right: Pad = 0,
            smooth: Int(min=1, max=25) = 5, device: Device = "auto", ctx: Context = None) -> Video:
    """A filmed or photographed person speaking the sound: Wav2Lip redraws the mouth and jaw of
    each frame to match it. The result lasts as long as the sound and carries it.

    Args:
        video: a real, front-facing face (a video, or a photo wired in).
        audio: the speech (a Speak node's output, or any recording at any sample rate).
        model: the Wav2Lip weights: wav2lip_gan (sharper) or wav2lip, a name under the model
            folders' wav2lip folder, or a path to the .pth file.
        extend: when the sound is longer than the video: loop it, play it back and forth, or hold
            its last frame.
        pad_top: pixels added above the detected face box.
        pad_bottom: pixels added below it (include the chin).
        pad_left: pixels added on the left.
        pad_right: pixels added on the right.
        smooth: face boxes are averaged over this many frames (steadier, but lags fast motion).
        device: auto picks cuda, then mps, then cpu.
    """
    if importlib.util.find_spec("torch") is None:
        raise ModelError("the Wav2Lip node needs torch, which is not installed: pip install -c requirements.lock -e '.[ai]'")
    from nodes import _wav2lip as w2l

    sound = audio.audio if isinstance(audio, Speech) else audio
    if sound.frames == 0:
        raise ValueError_("the audio is empty")
    if video.n_frames == 0:
        raise ValueError_("the video has no frames")
    report = ctx.progress if ctx is not None else (lambda fraction, message="", preview=None: None)
    where = f"video (input of node {ctx.node_id!r})" if ctx is not None else "video"
    models = ctx.models if ctx is not None else Models(FsPath.cwd())

    ckpt = checkpoint_file(models, model)
    dev = models.device(device)
    dt = models.dtype(dev, default="float32")   # a small network: full precision unless told
    fps = float(video.fps)
    n_out = w2l.frame_count(sound.duration, fps)
    n_src = min(video.n_frames, n_out)
    src = [source_index(i, video.n_frames, extend) for i in range(n_out)]

    # faces: detect, follow, fill short misses, pad, smooth
    report(0.0, "finding the face")
    detector = w2l.FaceDetector()
    found: list = []
    prev = None
    for s in range(n_src):
        b = detector.follow(video.rgb_frame(s), prev)
        found.append(b)
        prev = b if b is not None else prev
        if s % 16 == 15:
            report(0.15 * (s + 1) / n_src, f"finding the face: frame {s + 1}/{n_src}")
    max_gap = max(2, int(round(fps * 0.5)))
    filled, missing = w2l.fill_gaps(found, max_gap)
    if filled[0] is None:
        first = next((i for i, b in enumerate(found) if b is not None), None)
        also = f" (the first face is at frame {first})" if first is not None else \
            f" (nor in any of its {n_src} frame{'s' if n_src != 1 else ''})"
        raise ValueError_(f"no face found in {where} frame 0{also}: Wav2Lip needs a real, front-facing face "
                          f"(OpenCV's face detector found none); use a clearer shot or trim the start")
    boxes = w2l.finish_boxes(filled, video.width, video.height, (pad_top, pad_bottom, pad_left, pad_right), smooth)
    if missing and ctx is not None:
        spans = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in missing[:5])
        ctx.log(f"no face in frames {spans}: left as they are")

    # mel windows, one per output frame
    windows = w2l.mel_windows(w2l.audio_mel(sound.samples, sound.rate), n_out, fps)

    report(0.15, f"loading {ckpt.name}")
    net = load_model(models, ckpt, dev, dt, ctx)
    report(0.2, "lipsync")
    patches = np.zeros((n_out, w2l.IMG, w2l.IMG, 3), np.uint8)
    todo = [i for i in range(n_out) if boxes[src[i]] is not None]
    size = 64 if dev != "cpu" else 16
    done = 0
    for start in range(0, len(todo), size):
        idx = todo[start:start + size]
        faces = np.stack([w2l.crop_face(video.rgb_frame(src[i]), boxes[src[i]]) for i in idx])
        patches[idx] = w2l.generate(net, faces, windows[idx], dev, dt)
        done += len(idx)
        report(0.2 + 0.8 * done / len(todo), f"lipsync: frame {done}/{len(todo)}")
    patches.flags.writeable = False

    def frame(i: int) -> np.ndarray:
        box = boxes[src[i]]
        f = video.rgb_frame(src[i])
        return f if box is None else w2l.paste(f, patches[i], box)

    def key(i: int) -> bytes:
        box = boxes[src[i]]
        h = blake3.blake3(b"wav2lip\0" + video.key(src[i]))
        if box is not None:
            h.update(struct.pack("<4i", *box))
            h.update(patches[i].tobytes())
        return h.digest()

    return Video(frame, n_out, video.width, video.height, video.fps, sound, keep=(video, patches, boxes),
                 frame_key=key)
