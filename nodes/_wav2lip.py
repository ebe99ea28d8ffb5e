"""Wav2Lip for the Lipsync (Wav2Lip) node: the generator network, its audio features, face boxes,
and pasting the generated mouth back into the frame.

- :class:`Wav2Lip`: the published generator (Prajwal et al., "A Lip Sync Expert Is All You Need
  for Speech to Lip Generation In the Wild", ACM MM 2020), written here from the paper's
  architecture. Its module and parameter names are those of the authors' ``models/wav2lip.py``,
  so their released ``wav2lip.pth`` / ``wav2lip_gan.pth`` load as they are: a face encoder on
  6x96x96 (the face with its lower half blacked out, plus a reference picture of the face), an
  audio encoder on 1x80x16 mel windows (0.2 s), and a decoder with skip connections to the face
  encoder, every convolution followed by BatchNorm (+ a residual where the shapes allow) and
  ReLU; the output is 3x96x96 through a sigmoid. The network sees BGR pixels (it was trained on
  OpenCV-read frames).
- :func:`load_generator`: ``torch.load(..., weights_only=True)`` only (or a .safetensors file),
  strict key and shape checks, errors naming the file.
- :func:`melspectrogram`: Wav2Lip's ``audio.py`` features in numpy (16 kHz, n_fft 800, hop 200,
  window 800, 80 Slaney mels 55-7600 Hz, pre-emphasis 0.97, dB - 20, clipped symmetric
  normalisation to [-4, 4]); the filterbank is built here (no librosa).
- :class:`FaceDetector`, :func:`fill_gaps`, :func:`finish_boxes`: boxes from OpenCV's bundled Haar
  cascades, followed from frame to frame, short misses filled, padded and smoothed over a few
  frames (Wav2Lip's own inference smooths over 5).
- :func:`paste`: the generated lower face blended into the frame with a feathered mask.
"""
from __future__ import annotations

import functools
import math
import pickle
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from nodegraph import UnsupportedModel

IMG = 96                    # the generator's face size
SAMPLE_RATE = 16000
N_FFT, HOP, WIN = 800, 200, 800
N_MELS, FMIN, FMAX = 80, 55.0, 7600.0
PREEMPHASIS = 0.97
REF_LEVEL_DB, MIN_LEVEL_DB = 20.0, -100.0
MAX_ABS = 4.0               # symmetric normalisation to [-MAX_ABS, MAX_ABS]
MEL_STEP = 16               # mel frames per window (0.2 s)
MEL_FPS = SAMPLE_RATE / HOP  # 80 mel frames per second
PARAMETERS = 36_298_035     # the generator's parameter count (the paper's 36.3 M)


# -- the generator ---------------------------------------------------------------------------------

class Conv2d(nn.Module):
    """Convolution + BatchNorm (+ the input, when ``residual``) + ReLU. Submodule names match
    the release checkpoints: ``conv_block.0`` (conv), ``conv_block.1`` (BatchNorm)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int | tuple = 1, padding: int = 0,
                 residual: bool = False):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv_block(x)
        return self.act(y + x if self.residual else y)


class Conv2dTranspose(nn.Module):
    """Transposed convolution (upsampling) + BatchNorm + ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 output_padding: int = 0):
        super().__init__()
        self.conv_block = nn.Sequential(nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding),
                                        nn.BatchNorm2d(cout))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _stage(cin: int, cout: int, *, k: int = 3, stride: int | tuple = 2, pad: int = 1, res: int = 0) -> list[nn.Module]:
    """One change of width/resolution followed by ``res`` residual 3x3 blocks at the new width."""
    return [Conv2d(cin, cout, k, stride, pad)] + [Conv2d(cout, cout, 3, 1, 1, residual=True) for _ in range(res)]


def _up(cin: int, cout: int, res: int, *, stride: int = 2) -> nn.Sequential:
    """Decoder stage: upsample x2 (or 1x1 -> 3x3 when ``stride`` is 1), then residual blocks."""
    first = Conv2dTranspose(cin, cout, 3, stride, 1, 1) if stride == 2 else Conv2dTranspose(cin, cout, 3, 1, 0)
    return nn.Sequential(first, *[Conv2d(cout, cout, 3, 1, 1, residual=True) for _ in range(res)])


class Wav2Lip(nn.Module):
    """The Wav2Lip generator: ``forward(mel (B, 1, 80, 16), face (B, 6, 96, 96)) -> (B, 3, 96, 96)``
    in [0, 1]. Face channels 0-2: the target frame with rows 48-95 zeroed; 3-5: the reference
    frame (BGR, /255)."""

    def __init__(self) -> None:
        super().__init__()
        # face encoder: 96 -> 48 -> 24 -> 12 -> 6 -> 3 -> 1, each stage's output kept for the decoder
        self.face_encoder_blocks = nn.ModuleList([
            nn.Sequential(Conv2d(6, 16, 7, 1, 3)),
            nn.Sequential(*_stage(16, 32, res=2)),
            nn.Sequential(*_stage(32, 64, res=3)),
            nn.Sequential(*_stage(64, 128, res=2)),
            nn.Sequential(*_stage(128, 256, res=2)),
            nn.Sequential(*_stage(256, 512, res=1)),
            nn.Sequential(Conv2d(512, 512, 3, 1, 0), Conv2d(512, 512, 1, 1, 0)),
        ])
        # audio encoder: 80x16 -> 27x16 -> 9x6 -> 3x3 -> 1x1, 512 features
        self.audio_encoder = nn.Sequential(
            *_stage(1, 32, stride=1, res=2),
            *_stage(32, 64, stride=(3, 1), res=2),
            *_stage(64, 128, stride=3, res=2),
            *_stage(128, 256, stride=(3, 2), res=1),
            Conv2d(256, 512, 3, 1, 0), Conv2d(512, 512, 1, 1, 0),
        )
        # decoder: input channels = previous output + the matching encoder features (skip)
        self.face_decoder_blocks = nn.ModuleList([
            nn.Sequential(Conv2d(512, 512, 1, 1, 0)),
            _up(512 + 512, 512, 1, stride=1),     # 1 -> 3
            _up(512 + 512, 512, 2),               # 3 -> 6
            _up(512 + 256, 384, 2),               # 6 -> 12
            _up(384 + 128, 256, 2),               # 12 -> 24
            _up(256 + 64, 128, 2),                # 24 -> 48
            _up(128 + 32, 64, 2),                 # 48 -> 96
        ])
        self.output_block = nn.Sequential(Conv2d(64 + 16, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, mel: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        skips = []
        x = face
        for block in self.face_encoder_blocks:
            x = block(x)
            skips.append(x)
        x = self.audio_encoder(mel)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), skips.pop()), dim=1)
        return self.output_block(x)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- loading a checkpoint ----------------------------------------------------------------------------

def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a Wav2Lip checkpoint: ``{"state_dict": {"module.x": t}}`` (the release
    layout, as saved by the authors' training script) or a plain ``{"x": t}``; .safetensors too.
    Pickled files load with ``weights_only=True`` only: anything but tensors and plain containers
    is refused, never executed."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        try:
            from safetensors.torch import load_file

            obj: object = load_file(str(path), device="cpu")
        except Exception as e:
            raise UnsupportedModel(f"{path}: not a readable safetensors file ({_first_line(e)})") from None
    else:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            hostile = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
            if hostile:
                raise UnsupportedModel(
                    f"{path}: refused: this file holds pickled Python objects besides tensors ({hostile.group(1)}); "
                    f"nodegraph loads Wav2Lip checkpoints with weights-only unpickling, which never runs code from "
                    f"the file. Use the original wav2lip.pth / wav2lip_gan.pth, or re-save just the state_dict") from None
            detail = re.search(r"WeightsUnpickler error:\s*(.+)", str(e))
            raise UnsupportedModel(f"{path}: not a readable PyTorch checkpoint "
                                   f"({detail.group(1).strip() if detail else _first_line(e)}); is the download "
                                   f"complete? (a failed download is often a small HTML page)") from None
        except Exception as e:
            raise UnsupportedModel(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {_first_line(e)}); "
                                   f"is the download complete?") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UnsupportedModel(f"{path}: not a Wav2Lip checkpoint (expected a state_dict of tensors, "
                               f"or a dict with one under \"state_dict\")")
    return {(k[len("module."):] if isinstance(k, str) and k.startswith("module.") else str(k)): v for k, v in obj.items()}


def _what_else(keys: Iterable[str]) -> str:
    keys = list(keys)
    if any(k.startswith("binary_pred.") for k in keys):
        return " (it looks like Wav2Lip's visual-quality discriminator, not the generator)"
    if any(k.startswith("face_encoder.") for k in keys) and any(k.startswith("audio_encoder.") for k in keys):
        return " (it looks like the SyncNet lip-sync expert, not the generator)"
    return ""


def check_state_dict(model: nn.Module, sd: dict[str, torch.Tensor], path: str | Path) -> dict[str, torch.Tensor]:
    """``sd`` if it fits the generator exactly (names and shapes; BatchNorm batch counters may be
    absent, as in checkpoints from older torch), else a clear refusal naming the file."""
    want = model.state_dict()
    required = [k for k in want if not k.endswith("num_batches_tracked")]
    missing = [k for k in required if k not in sd]
    extra = [k for k in sd if k not in want]
    bad = [f"{k} {tuple(sd[k].shape)} (expected {tuple(want[k].shape)})"
           for k in want if k in sd and tuple(sd[k].shape) != tuple(want[k].shape)]
    if missing or extra or bad:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the generator's {len(required)} tensors missing (e.g. {', '.join(missing[:3])})")
        if extra:
            parts.append(f"{len(extra)} unexpected (e.g. {', '.join(extra[:3])})")
        if bad:
            parts.append(f"{len(bad)} with the wrong shape (e.g. {', '.join(bad[:2])})")
        raise UnsupportedModel(f"{path}: not a Wav2Lip checkpoint{_what_else(sd)}: {'; '.join(parts)}. "
                               f"Use wav2lip.pth or wav2lip_gan.pth from the Wav2Lip release")
    for k, v in sd.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise UnsupportedModel(f"{path}: damaged Wav2Lip checkpoint: tensor {k} holds NaN or infinite values")
    return {k: v for k, v in sd.items()}


def load_generator(path: str | Path, device: str = "cpu", dtype: str = "float32") -> Wav2Lip:
    """A ready (eval mode) generator with the checkpoint's weights, on ``device`` as ``dtype``."""
    sd = read_state_dict(path)
    with torch.device("meta"):
        probe = Wav2Lip()          # names and shapes only, no memory
    sd = check_state_dict(probe, sd, path)
    model = Wav2Lip()
    model.load_state_dict(sd, strict=False)   # strictness checked above (batch counters may be absent)
    return model.to(device=device, dtype=getattr(torch, dtype)).eval()


# -- audio features (Wav2Lip's audio.py, in numpy) ---------------------------------------------------

def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    logstep = math.log(6.4) / 27.0
    with np.errstate(divide="ignore", invalid="ignore"):
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep
    return np.where(f >= 1000.0, log, lin)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    logstep = math.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


@functools.lru_cache(maxsize=4)
def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   fmin: float = FMIN, fmax: float = FMAX) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular filters equally spaced on the Slaney mel scale, each
    scaled to unit area (Slaney normalisation), as ``librosa.filters.mel`` builds by default."""
    fft_f = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    rel = edges[:, None] - fft_f[None, :]
    rising = -rel[:-2] / widths[:-1, None]
    falling = rel[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    weights = weights.astype(np.float32)
    weights.flags.writeable = False
    return weights


def _stft_magnitude(y: np.ndarray) -> np.ndarray:
    """|STFT|, (1 + n_fft // 2, frames): periodic Hann window, frames centred (the signal is
    reflect-padded by n_fft // 2 on both sides), as librosa 0.7's ``stft`` that Wav2Lip used."""
    pad = N_FFT // 2
    if len(y) <= pad:  # too short to reflect: zero-pad first (librosa would refuse)
        y = np.pad(y, (0, pad + 1 - len(y)))
    y = np.pad(y, (pad, pad), mode="reflect")
    n_frames = 1 + (len(y) - N_FFT) // HOP
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WIN) / WIN)
    frames = np.lib.stride_tricks.as_strided(y, shape=(n_frames, N_FFT), strides=(y.strides[0] * HOP, y.strides[0]))
    return np.abs(np.fft.rfft(frames * window, axis=1)).T


def melspectrogram(wav: np.ndarray) -> np.ndarray:
    """Wav2Lip's mel spectrogram of a 16 kHz mono signal: (80, 1 + len // 200) float32 in [-4, 4]
    (one column every 12.5 ms; 1 s gives 81 columns)."""
    x = np.asarray(wav, dtype=np.float64).reshape(-1)
    x = np.nan_to_num(x)
    y = np.empty_like(x)
    if len(x):
        y[0] = x[0]
        y[1:] = x[1:] - PREEMPHASIS * x[:-1]
    spec = mel_filterbank().astype(np.float64) @ _stft_magnitude(y)
    min_level = 10.0 ** (MIN_LEVEL_DB / 20.0)
    db = 20.0 * np.log10(np.maximum(min_level, spec)) - REF_LEVEL_DB
    norm = (2 * MAX_ABS) * ((db - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS
    return np.clip(norm, -MAX_ABS, MAX_ABS).astype(np.float32)


def audio_mel(samples: np.ndarray, rate: int) -> np.ndarray:
    """The mel spectrogram of any audio (frames, channels) at any rate: mixed to mono, resampled
    to 16 kHz."""
    from nodes.audiodsp import resample

    x = np.asarray(samples, dtype=np.float32)
    mono = x.mean(axis=1) if x.ndim == 2 else x
    if rate != SAMPLE_RATE:
        mono = resample(mono[:, None], rate, SAMPLE_RATE)[:, 0]
    return melspectrogram(mono)


def frame_count(duration: float, fps: float) -> int:
    """Video frames the sound needs: enough to cover it."""
    return max(1, int(math.ceil(duration * fps - 1e-6)))


def mel_windows(mel: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """(n_frames, 80, 16): the 0.2 s of mel for each video frame, stepping 80 / fps mel columns per
    frame. The window of frame k starts at frame k - 1, as in Wav2Lip's training (its inference
    script starts it at frame k, one frame later than training); windows are clamped to the
    sound, which is padded with silence when shorter than one window."""
    if mel.shape[1] < MEL_STEP:
        mel = np.concatenate([mel, np.full((mel.shape[0], MEL_STEP - mel.shape[1]), -MAX_ABS, mel.dtype)], axis=1)
    last = mel.shape[1] - MEL_STEP
    step = MEL_FPS / float(fps)
    starts = [min(last, max(0, int(math.floor((k - 1) * step)))) for k in range(n_frames)]
    return np.stack([mel[:, s:s + MEL_STEP] for s in starts]).astype(np.float32)


# -- faces --------------------------------------------------------------------------------------------

CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")
DETECT_SIZE = 640           # frames are searched at most this large (long side)
CHIN = 0.10                 # Haar boxes end near the lower lip: extend by this much of the height


class FaceDetector:
    """OpenCV's bundled frontal-face Haar cascades (no download): the box of the face to follow in
    each frame, (x1, y1, x2, y2) in frame pixels, or None."""

    def __init__(self) -> None:
        import cv2

        self.cv2 = cv2
        self.cascades = []
        for name in CASCADES:
            c = cv2.CascadeClassifier(cv2.data.haarcascades + name)
            if c.empty():
                raise RuntimeError(f"OpenCV's face cascade {name} is missing from {cv2.data.haarcascades} "
                                   f"(opencv-python-headless 5.x ships none: use a version < 5)")
            self.cascades.append(c)

    def candidates(self, rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
        cv2 = self.cv2
        h, w = rgb.shape[:2]
        scale = min(1.0, DETECT_SIZE / max(h, w))
        small = rgb if scale >= 1.0 else cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                    interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(small[:, :, :3]), cv2.COLOR_RGB2GRAY))
        min_side = max(24, min(grey.shape) // 12)
        for c in self.cascades:
            found = c.detectMultiScale(grey, 1.1, 5, minSize=(min_side, min_side))
            if len(found):
                return [(x / scale, y / scale, (x + fw) / scale, (y + fh) / scale) for x, y, fw, fh in found]
        return []

    def follow(self, rgb: np.ndarray, previous: np.ndarray | None) -> np.ndarray | None:
        """The largest face, or once one is followed, the one nearest to it (a face in the
        background does not steal the box)."""
        found = self.candidates(rgb)
        if not found:
            return None
        boxes = np.array(found, np.float64)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        if previous is None:
            return boxes[int(np.argmax(area))]
        size = max(1.0, float(previous[2] - previous[0]))
        centre = lambda b: np.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2], -1)  # noqa: E731
        dist = np.linalg.norm(centre(boxes) - centre(previous), axis=1) / size
        return boxes[int(np.argmin(dist - 1e-9 * area))]


def fill_gaps(boxes: Sequence[np.ndarray | None], max_gap: int) -> tuple[list[np.ndarray | None], list[tuple[int, int]]]:
    """Boxes with short runs of misses (<= ``max_gap`` frames) filled in: interpolated between
    the neighbours, or held at the ends. Longer runs stay None; they are returned as (first, last)."""
    out = list(boxes)
    n = len(out)
    long_runs = []
    i = 0
    while i < n:
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < n and out[j] is None:
            j += 1
        before = out[i - 1] if i > 0 else None
        after = out[j] if j < n else None
        if j - i <= max_gap and (before is not None or after is not None):
            for k in range(i, j):
                if before is not None and after is not None:
                    t = (k - i + 1) / (j - i + 1)
                    out[k] = before * (1 - t) + after * t
                else:
                    out[k] = before if before is not None else after
        else:
            long_runs.append((i, j - 1))
        i = j
    return out, long_runs


def finish_boxes(boxes: Sequence[np.ndarray | None], width: int, height: int, pads: tuple[int, int, int, int],
                 smooth: int) -> list[tuple[int, int, int, int] | None]:
    """Detected boxes -> the crop boxes of the generator: chin included, padded (top, bottom,
    left, right, in pixels, like Wav2Lip's --pads), clipped to the frame, averaged over ``smooth``
    neighbouring frames (not across frames without a face), rounded."""
    top, bottom, left, right = pads
    padded: list[np.ndarray | None] = []
    for b in boxes:
        if b is None:
            padded.append(None)
            continue
        x1, y1, x2, y2 = (float(v) for v in b)
        y2 += CHIN * (y2 - y1)
        padded.append(np.array([max(0.0, x1 - left), max(0.0, y1 - top), min(float(width), x2 + right),
                                min(float(height), y2 + bottom)]))
    r = max(0, (int(smooth) - 1) // 2)
    out: list[tuple[int, int, int, int] | None] = []
    for i, b in enumerate(padded):
        if b is None:
            out.append(None)
            continue
        lo, hi = i, i
        while lo > 0 and i - lo < r and padded[lo - 1] is not None:
            lo -= 1
        while hi < len(padded) - 1 and hi - i < r and padded[hi + 1] is not None:
            hi += 1
        m = np.mean([padded[k] for k in range(lo, hi + 1)], axis=0)
        x1, y1 = int(round(m[0])), int(round(m[1]))
        x2, y2 = max(x1 + 2, int(round(m[2]))), max(y1 + 2, int(round(m[3])))
        out.append((x1, y1, min(width, x2), min(height, y2)))
    return out


# -- crops, generation, pasting --------------------------------------------------------------------------

def crop_face(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The box resized to 96x96, BGR (the generator's colour order)."""
    import cv2

    x1, y1, x2, y2 = box
    face = cv2.resize(np.ascontiguousarray(rgb[y1:y2, x1:x2, :3]), (IMG, IMG))
    return np.ascontiguousarray(face[:, :, ::-1])


def generate(model: Wav2Lip, faces_bgr: np.ndarray, mels: np.ndarray, device: str, dtype: str) -> np.ndarray:
    """One batch: faces (B, 96, 96, 3) uint8 BGR, mel windows (B, 80, 16) -> (B, 96, 96, 3) uint8 RGB."""
    faces = torch.from_numpy(np.ascontiguousarray(faces_bgr)).permute(0, 3, 1, 2).float().div_(255.0)
    masked = faces.clone()
    masked[:, :, IMG // 2:] = 0.0
    x = torch.cat([masked, faces], dim=1).to(device=device, dtype=getattr(torch, dtype))
    a = torch.from_numpy(np.ascontiguousarray(mels))[:, None].to(device=device, dtype=getattr(torch, dtype))
    with torch.inference_mode():
        y = model(a, x).float().clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return np.ascontiguousarray(y[:, :, :, ::-1])


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@functools.lru_cache(maxsize=64)
def mouth_mask(w: int, h: int) -> np.ndarray:
    """(h, w, 1) float32 blend weights over a face box: 0 in the upper 45 % (the generator redraws
    only the lower half), rising to 1 by 60 %, feathered at the sides and the bottom edge."""
    v = (np.arange(h) + 0.5) / h
    u = (np.arange(w) + 0.5) / w
    wy = _smoothstep(0.45, 0.60, v) * (1.0 - _smoothstep(0.92, 1.0, v))
    wx = _smoothstep(0.0, 0.12, u) * _smoothstep(0.0, 0.12, 1.0 - u)
    m = (wy[:, None] * wx[None, :]).astype(np.float32)[:, :, None]
    m.flags.writeable = False
    return m


def paste(rgb: np.ndarray, patch: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The frame with the generated 96x96 face (RGB) blended into its box; pixels outside the box,
    and in the box's upper part, are the frame's own."""
    import cv2

    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    out = np.array(rgb[:, :, :3])
    up = cv2.resize(patch, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    region = out[y1:y2, x1:x2].astype(np.float32)
    m = mouth_mask(w, h)
    out[y1:y2, x1:x2] = np.clip(np.rint(region + (up - region) * m), 0, 255).astype(np.uint8)
    return out

