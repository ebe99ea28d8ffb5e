"""Audio signal processing in plain numpy: resampling, gain, fades, ducking, mixing, reverb.

Every function is pure: it takes sample arrays and returns a new float32 array, never changing
its input (``Audio.samples`` are read-only anyway). Sample arrays are shaped (frames, channels)
with 1 or 2 channels; a 1-D array is taken as mono. Times are in seconds, levels in dB relative to
full scale (1.0), gains as linear factors unless a name says ``_db``.

    resample(samples, src_rate, dst_rate)            band-limited (Kaiser-windowed sinc) resampling
    to_stereo(samples)                               mono -> two equal channels
    gain_db(samples, db), db_to_gain(db)             level changes
    fade(samples, rate, fade_in_s, fade_out_s)       equal-power (quarter-sine) or linear fades
    envelope(samples, rate, attack_s, release_s)     peak envelope follower, one value per frame
    duck(music, dialogue, rate, ...)                 lower the music where the dialogue speaks
    mix(tracks, length)                              sum placed tracks, soft-limited below 1.0
    place(samples, rate, start_s)                    prepend silence
    soft_clip(samples, knee)                         tanh-style limiting of peaks above ``knee``
    reverb(samples, rate, decay_s, wet)              feedback-delay-network reverb, stereo out
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

__all__ = [
    "resample", "to_stereo", "gain_db", "db_to_gain", "fade", "envelope", "duck", "mix", "place",
    "soft_clip", "reverb",
]

# resampler design: Kaiser-windowed sinc, ZEROS zero crossings of the low-pass on each side,
# pass band up to ROLLOFF of the lower Nyquist frequency, stop band (about -90 dB) from it.
ZEROS = 40
ROLLOFF = 0.93
BETA = 9.0
_MATRIX_LIMIT = 1 << 22  # entries of the polyphase matrix before the general path is used


def _as_2d(samples: np.ndarray, what: str = "samples") -> np.ndarray:
    a = np.asarray(samples)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] not in (1, 2):
        raise ValueError(f"{what} must be shaped (frames, 1|2), got {a.shape}")
    return a


def _check_rate(rate: int, what: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate < 1:
        raise ValueError(f"{what} must be a whole number of Hz above 0, got {rate!r}")
    return int(rate)


def _check_time(value: float, what: str) -> float:
    if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


# -- resampling --------------------------------------------------------------------------------
def _kernel(t: np.ndarray, fc: float, half: float) -> np.ndarray:
    """Low-pass impulse response at offsets ``t`` (input samples): cutoff ``fc`` (fraction of
    the input Nyquist), Kaiser window of half-width ``half``."""
    inside = np.abs(t) < half
    r = np.where(inside, t / half, 0.0)
    w = np.where(inside, np.i0(BETA * np.sqrt(np.maximum(0.0, 1.0 - r * r))) / np.i0(BETA), 0.0)
    return fc * np.sinc(fc * t) * w


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Change the sample rate with a band-limited (Kaiser-windowed sinc) interpolator.

    The low-pass has its cutoff at 93 % of the lower of the two Nyquist frequencies and about
    -90 dB of stop band, so upsampling leaves no images and downsampling removes what the new
    rate cannot hold instead of folding it back (aliasing). When the rate ratio reduces to a small
    fraction (22050 -> 48000 is 320/147, 44100 -> 48000 is 160/147) the exact polyphase filter
    bank runs as one matrix product per block; other ratios (an odd rate such as 44101) use a
    kernel tabulated at 1024 fractional phases. Output sample ``n`` sits at input time ``n * src / dst``; the output
    has ``round(frames * dst / src)`` frames.

    Args:
        samples: (frames, channels) or (frames,) array.
        src_rate: the rate the samples are at, Hz.
        dst_rate: the rate wanted, Hz.

    Returns:
        float32 array (new_frames, channels).
    """
    x = _as_2d(samples)
    src, dst = _check_rate(src_rate, "source rate"), _check_rate(dst_rate, "target rate")
    n, ch = x.shape
    if src == dst:
        return np.array(x, dtype=np.float32)
    n_out = (n * dst + src // 2) // src
    if n == 0 or n_out == 0:
        return np.zeros((n_out, ch), np.float32)
    g = math.gcd(src, dst)
    up, down = dst // g, src // g  # output n is at input position n * down / up
    fc = min(1.0, dst / src) * ROLLOFF
    half = ZEROS / fc  # half-width of the kernel in input samples
    reach = int(math.ceil(half))
    width = down + 2 * reach
    x64 = np.asarray(x, dtype=np.float64)
    if width * up <= _MATRIX_LIMIT and width <= 4096:
        out = _resample_polyphase(x64, n_out, up, down, fc, half, reach)
    else:
        out = _resample_general(x64, n_out, src, dst, fc, half, reach)
    return out.astype(np.float32)


def _resample_polyphase(x: np.ndarray, n_out: int, up: int, down: int, fc: float, half: float,
                        reach: int) -> np.ndarray:
    # output n = j*up + r sits at input j*down + r*down/up; it needs the inputs
    # j*down + q for q in [-reach, down - 1 + reach]: one sliding window per block j.
    n, ch = x.shape
    q = np.arange(-reach, down + reach)[:, None]
    t = (np.arange(up) * down / up)[None, :] - q
    bank = _kernel(t, fc, half)
    bank /= bank.sum(axis=0, keepdims=True)  # unit gain at DC for every phase
    width = bank.shape[0]
    blocks = -(-n_out // up)
    padded_len = (blocks - 1) * down + width
    out = np.empty((blocks * up, ch))
    step = max(1, (1 << 21) // width)  # blocks per matrix product (bounded memory)
    for c in range(ch):
        xp = np.zeros(padded_len)
        take = min(n, padded_len - reach)
        xp[reach:reach + take] = x[:take, c]
        s = xp.strides[0]
        windows = np.lib.stride_tricks.as_strided(xp, shape=(blocks, width), strides=(down * s, s),
                                                  writeable=False)
        for b0 in range(0, blocks, step):
            b1 = min(blocks, b0 + step)
            out[b0 * up:b1 * up, c] = (windows[b0:b1] @ bank).reshape(-1)
    return out[:n_out]


def _resample_general(x: np.ndarray, n_out: int, src: int, dst: int, fc: float, half: float,
                      reach: int) -> np.ndarray:
    # any ratio: the kernel is tabulated at PHASES fractional offsets and interpolated linearly
    # between neighbouring phases (error ~1e-6), then applied as one gather + product per block
    phases = 1024
    n, ch = x.shape
    taps = np.arange(-reach + 1, reach + 1)
    frac_grid = np.arange(phases + 1) / phases
    bank = _kernel(frac_grid[:, None] - taps[None, :], fc, half)
    bank = (bank / bank.sum(axis=1, keepdims=True)).astype(np.float32)  # float32: 4x less traffic
    xp = np.zeros((ch, n + 2 * reach + 2), np.float32)
    xp[:, reach:reach + n] = x.T
    offsets = taps + reach
    out = np.empty((n_out, ch))
    chunk = 8192
    for a in range(0, n_out, chunk):
        idx = np.arange(a, min(n_out, a + chunk), dtype=np.int64)
        num = idx * src
        i0 = num // dst
        pos = (num - i0 * dst) * (phases / dst)
        p = np.minimum(pos.astype(np.int64), phases - 1)
        f = (pos - p).astype(np.float32)[:, None]
        w = bank[p]
        w *= 1.0 - f
        w += bank[p + 1] * f
        gather = i0[:, None] + offsets[None, :]
        for c in range(ch):
            out[a:a + len(idx), c] = np.einsum("ij,ij->i", w, xp[c][gather])
    return out


# -- levels -----------------------------------------------------------------------------------
def db_to_gain(db: float) -> float:
    """Linear gain factor for ``db`` decibels (-6 dB is about 0.5)."""
    return float(10.0 ** (float(db) / 20.0))


def gain_db(samples: np.ndarray, db: float) -> np.ndarray:
    """The samples made ``db`` decibels louder (negative: quieter). No limiting is applied."""
    if not math.isfinite(db):
        raise ValueError(f"gain must be a finite number of dB, got {db!r}")
    return (np.asarray(samples, dtype=np.float32) * np.float32(db_to_gain(db))).astype(np.float32)


def to_stereo(samples: np.ndarray) -> np.ndarray:
    """(frames, 2) float32: a mono signal is copied to both channels, stereo is returned as is."""
    x = _as_2d(samples)
    if x.shape[1] == 2:
        return np.array(x, dtype=np.float32)
    return np.repeat(np.asarray(x, dtype=np.float32), 2, axis=1)


def fade(samples: np.ndarray, rate: int, fade_in_s: float = 0.0, fade_out_s: float = 0.0,
         curve: str = "equal_power") -> np.ndarray:
    """Fade in at the start and out at the end.

    ``curve`` "equal_power" (the default) is a quarter sine, gain sin(pi/2 * t), which keeps the
    perceived level steady when two fades cross; "linear" ramps the gain in a straight line. A
    fade longer than the signal is shortened to its length.
    """
    x = _as_2d(samples)
    rate = _check_rate(rate, "rate")
    if curve not in ("equal_power", "linear"):
        raise ValueError(f"fade curve {curve!r} must be 'equal_power' or 'linear'")
    n = x.shape[0]
    fin = min(n, int(round(_check_time(fade_in_s, "fade_in_s") * rate)))
    fout = min(n, int(round(_check_time(fade_out_s, "fade_out_s") * rate)))
    gain = np.ones(n, np.float64)

    def ramp(k: int) -> np.ndarray:  # rising 0 -> 1 over k frames (first frame 0, last < 1)
        t = np.arange(k) / k
        return np.sin(0.5 * np.pi * t) if curve == "equal_power" else t

    if fin:
        gain[:fin] *= ramp(fin)
    if fout:
        gain[n - fout:] *= ramp(fout)[::-1]
    return (x * gain[:, None]).astype(np.float32)


def soft_clip(samples: np.ndarray, knee: float = 0.9) -> np.ndarray:
    """Samples with ``|x| <= knee`` unchanged; louder ones bent smoothly towards (never past) 1.0:
    ``knee + (1 - knee) * tanh((|x| - knee) / (1 - knee))``, which has slope 1 at the knee."""
    if not 0.0 <= knee < 1.0:
        raise ValueError(f"soft clip knee must be in [0, 1), got {knee!r}")
    x = np.array(samples, dtype=np.float32)
    a = np.abs(x)
    over = a > knee
    if over.any():
        room = 1.0 - knee
        bent = knee + room * np.tanh((a[over] - knee) / room)
        x[over] = np.sign(x[over]) * np.minimum(bent, 1.0)
    return x


# -- envelopes and ducking --------------------------------------------------------------------
def _block_peaks(samples: np.ndarray, block: int) -> np.ndarray:
    x = _as_2d(samples)
    a = np.abs(np.asarray(x, dtype=np.float32)).max(axis=1)
    nb = -(-len(a) // block)
    padded = np.zeros(nb * block, np.float32)
    padded[:len(a)] = a
    return padded.reshape(nb, block).max(axis=1).astype(np.float64)


def _follow(target: Sequence[float], up: float, down: float) -> np.ndarray:
    """One-pole smoother with separate coefficients for rising and falling values."""
    out = np.empty(len(target))
    e = 0.0
    for i, v in enumerate(target):
        e += (up if v > e else down) * (v - e)
        out[i] = e
    return out


def _coef(time_s: float, block: int, rate: int) -> float:
    """Per-block smoothing coefficient for a time constant ``time_s``."""
    return 1.0 if time_s <= 0 else 1.0 - math.exp(-block / (time_s * rate))


def _to_frames(values: np.ndarray, block: int, n: int) -> np.ndarray:
    """Per-block values (at block centres) interpolated to one value per frame."""
    centres = np.arange(len(values)) * block + (block - 1) / 2.0
    return np.interp(np.arange(n), centres, values)


def envelope(samples: np.ndarray, rate: int, attack_s: float = 0.01, release_s: float = 0.2) -> np.ndarray:
    """Peak envelope follower: one amplitude value per frame (float32, shape (frames,)).

    The peak of all channels is taken over 2 ms blocks, smoothed by a one-pole follower that rises
    with time constant ``attack_s`` and falls with ``release_s``, and interpolated back to frames.
    """
    rate = _check_rate(rate, "rate")
    attack_s, release_s = _check_time(attack_s, "attack_s"), _check_time(release_s, "release_s")
    x = _as_2d(samples)
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, np.float32)
    block = max(1, int(round(rate * 0.002)))
    peaks = _block_peaks(x, block)
    env = _follow(peaks.tolist(), _coef(attack_s, block, rate), _coef(release_s, block, rate))
    return _to_frames(env, block, n).astype(np.float32)


def _sliding_max(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """max(a[i - before : i + after + 1]) for every i."""
    if before == 0 and after == 0:
        return a.copy()
    padded = np.concatenate([np.full(before, -np.inf), a, np.full(after, -np.inf)])
    win = before + after + 1
    view = np.lib.stride_tricks.sliding_window_view(padded, win)
    return view.max(axis=1)


def duck(music: np.ndarray, dialogue: np.ndarray, rate: int, amount_db: float = 10.0,
         attack_s: float = 0.05, release_s: float = 0.4, threshold_db: float = -40.0, *,
         hold_s: float = 0.25) -> np.ndarray:
    """Lower the music by up to ``amount_db`` wherever the dialogue is above ``threshold_db``.

    The dialogue's peak level (over 5 ms blocks) opens a key with a 6 dB soft knee centred on the
    threshold. The key is held for ``hold_s`` after the dialogue falls silent (so the music does
    not pump between words) and looks ``attack_s`` ahead (so the music is already down when the
    first syllable starts). The gain reduction, in dB, then moves towards its target with time
    constant ``attack_s`` going down and ``release_s`` coming back, and is interpolated per frame,
    so it has no steps (no clicks). Dialogue shorter than the music counts as silence after its
    end; the result has the music's shape.

    Args:
        music: (frames, channels) music to lower.
        dialogue: (frames, channels) the key signal (speech, effects), at the same rate.
        rate: sample rate of both, Hz.
        amount_db: the most the music is lowered, dB (>= 0).
        attack_s: how fast the music goes down, seconds.
        release_s: how fast it comes back, seconds.
        threshold_db: dialogue level (dBFS peak) above which the music is lowered.
        hold_s: how long the music stays down after the dialogue stops, seconds.
    """
    m = _as_2d(music, "music")
    d = _as_2d(dialogue, "dialogue")
    rate = _check_rate(rate, "rate")
    if not math.isfinite(amount_db) or amount_db < 0:
        raise ValueError(f"duck amount must be a finite number of dB >= 0, got {amount_db!r}")
    if not math.isfinite(threshold_db):
        raise ValueError(f"duck threshold must be a finite number of dB, got {threshold_db!r}")
    attack_s, release_s = _check_time(attack_s, "attack_s"), _check_time(release_s, "release_s")
    hold_s = _check_time(hold_s, "hold_s")
    n = m.shape[0]
    if n == 0 or amount_db == 0:
        return np.array(m, dtype=np.float32)
    key_sig = np.zeros((n, 1), np.float32)
    k = min(n, d.shape[0])
    key_sig[:k, 0] = np.abs(np.asarray(d[:k], dtype=np.float32)).max(axis=1)
    block = max(1, int(round(rate * 0.005)))
    peaks = _block_peaks(key_sig, block)
    level_db = 20.0 * np.log10(np.maximum(peaks, 1e-9))
    knee = 6.0
    key = np.clip((level_db - threshold_db) / knee + 0.5, 0.0, 1.0)
    key = _sliding_max(key, int(round(hold_s * rate / block)), int(round(attack_s * rate / block)))
    target = amount_db * key
    reduction = _follow(target.tolist(), _coef(attack_s, block, rate), _coef(release_s, block, rate))
    gain = 10.0 ** (-_to_frames(reduction, block, n) / 20.0)
    return (m * gain[:, None]).astype(np.float32)


# -- placing and mixing -----------------------------------------------------------------------
def place(samples: np.ndarray, rate: int, start_s: float) -> np.ndarray:
    """The samples with ``start_s`` seconds of silence before them (rounded to whole frames)."""
    x = _as_2d(samples)
    rate = _check_rate(rate, "rate")
    start = int(round(_check_time(start_s, "start_s") * rate))
    out = np.zeros((start + x.shape[0], x.shape[1]), np.float32)
    out[start:] = x
    return out


def mix(tracks: Iterable[tuple[np.ndarray, int, float]], length: int, *, channels: int | None = None,
        knee: float = 0.9, limit: bool = True) -> np.ndarray:
    """Sum tracks into one (length, channels) float32 array that never goes past +-1.0.

    Each track is ``(samples, start_frame, gain)``: its frames are added from ``start_frame`` on
    (a negative start cuts its head), times the linear ``gain``, and cut at ``length``. A mono
    track goes to both channels of a stereo mix; a stereo track in a mono mix is averaged.
    ``channels`` defaults to the most any track has (1 when there are none). Only when the sum
    goes past 1.0 is it soft-clipped (``soft_clip`` with ``knee``); a mix that fits is returned
    unchanged. ``limit=False`` returns the plain sum (for a key signal, or further mixing).
    """
    if not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"mix length must be a whole number of frames >= 0, got {length!r}")
    items = [(_as_2d(s, f"track {i}"), int(start), float(g)) for i, (s, start, g) in enumerate(tracks)]
    ch = channels or max([s.shape[1] for s, _, _ in items], default=1)
    if ch not in (1, 2):
        raise ValueError(f"mix channels must be 1 or 2, got {ch!r}")
    out = np.zeros((int(length), ch), np.float32)
    for i, (s, start, g) in enumerate(items):
        if not math.isfinite(g):
            raise ValueError(f"track {i} gain must be finite, got {g!r}")
        a, b = max(0, start), min(int(length), start + s.shape[0])
        if b <= a or g == 0.0:
            continue
        part = np.asarray(s[a - start:b - start], dtype=np.float32)
        if part.shape[1] == 2 and ch == 1:
            part = part.mean(axis=1, keepdims=True)
        out[a:b] += part * np.float32(g)
    if limit and out.size and float(np.abs(out).max()) > 1.0:
        out = soft_clip(out, knee)
    return out


# -- reverb -----------------------------------------------------------------------------------
_FDN_MS = (43.7, 51.3, 59.9, 67.1, 73.3, 83.9, 91.7, 101.3)
_EARLY = ((7.1, 0.62, 0.0), (11.3, -0.5, 1.0), (16.9, 0.45, 0.3), (21.7, -0.38, 0.8),
          (27.1, 0.33, 0.1), (33.9, -0.28, 0.95), (38.3, 0.24, 0.4))  # ms, gain, pan (0 L .. 1 R)


def _hadamard(k: int) -> np.ndarray:
    h = np.array([[1.0]])
    while h.shape[0] < k:
        h = np.block([[h, h], [h, -h]])
    return h / math.sqrt(k)


def reverb(samples: np.ndarray, rate: int, decay_s: float = 1.6, wet: float = 0.25, *,
           predelay_s: float = 0.015, damping: float = 0.4, dry: float = 1.0) -> np.ndarray:
    """A gentle stereo room: early reflections and an 8-line feedback delay network.

    The input (mixed to mono) passes through a sparse set of early reflections panned across
    the stereo field, then into eight delay lines (44-101 ms) mixed by an orthogonal (Hadamard)
    matrix, each with the feedback gain that makes it decay by 60 dB in ``decay_s``; a small
    low-pass in every loop (``damping`` 0..1) makes high frequencies die sooner. The lines are
    processed a block at a time (a block shorter than the shortest delay), so it is vectorised.
    The tail is cut at the input's length.

    Returns:
        float32 (frames, 2): ``dry * input + wet * reverb``.
    """
    x = _as_2d(samples)
    rate = _check_rate(rate, "rate")
    decay_s = _check_time(decay_s, "decay_s")
    if not 0.0 <= damping <= 1.0:
        raise ValueError(f"reverb damping must be in [0, 1], got {damping!r}")
    n = x.shape[0]
    out = to_stereo(x) * np.float32(dry)
    if n == 0 or wet == 0.0 or decay_s == 0.0:
        return out
    mono = np.asarray(x, dtype=np.float32).mean(axis=1)
    pre = int(round(_check_time(predelay_s, "predelay_s") * rate))
    send = np.zeros(n, np.float32)
    if pre < n:
        send[pre:] = mono[:n - pre]
    # early reflections, straight into the output
    early = np.zeros((n, 2), np.float32)
    for ms, g, pan in _EARLY:
        d = int(round(ms * rate / 1000.0))
        if d >= n:
            continue
        early[d:, 0] += send[:n - d] * np.float32(g * math.cos(pan * math.pi / 2))
        early[d:, 1] += send[:n - d] * np.float32(g * math.sin(pan * math.pi / 2))
    tail = _fdn(send, rate, decay_s, damping)
    out += np.float32(wet) * (0.5 * early + tail)
    return out


def _fdn(send: np.ndarray, rate: int, decay_s: float, damping: float) -> np.ndarray:
    n = len(send)
    delays = []
    for ms in _FDN_MS:
        d = max(3, int(round(ms * rate / 1000.0)))
        while d in delays:
            d += 1
        delays.append(d)
    k = len(delays)
    dl = np.array(delays)
    gains = 10.0 ** (-3.0 * dl / (decay_s * rate))
    mat = (_hadamard(k) * gains[None, :]).astype(np.float32)  # feedback: line j's output scaled
    in_sign = np.array([1, -1, 1, -1, 1, -1, 1, -1][:k], np.float32) / math.sqrt(k)
    out_l = np.array([1, 1, -1, -1, 1, 1, -1, -1][:k], np.float32) / math.sqrt(k)
    out_r = np.array([1, -1, 1, -1, -1, 1, -1, 1][:k], np.float32) / math.sqrt(k)
    fir = np.array([damping * 0.25, 1.0 - damping * 0.5, damping * 0.25], np.float32)
    ring_len = int(dl.max()) + 2
    ring = np.zeros((k, ring_len), np.float32)
    chunk = int(dl.min()) - 2
    out = np.zeros((n, 2), np.float32)
    seg = np.empty((k, chunk + 2), np.float32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        m = e - s
        # read y_i[t - d_i - 2 .. t - d_i] for t in [s, e): all written by earlier blocks
        for i, d in enumerate(delays):
            a = (s - d - 2) % ring_len
            b = a + m + 2
            if b <= ring_len:
                seg[i, :m + 2] = ring[i, a:b]
            else:
                cut = ring_len - a
                seg[i, :cut] = ring[i, a:]
                seg[i, cut:m + 2] = ring[i, :b - ring_len]
        o = fir[0] * seg[:, :m] + fir[1] * seg[:, 1:m + 1] + fir[2] * seg[:, 2:m + 2]
        y = mat @ o + in_sign[:, None] * send[None, s:e]
        out[s:e, 0] = out_l @ o
        out[s:e, 1] = out_r @ o
        a = s % ring_len
        b = a + m
        if b <= ring_len:
            ring[:, a:b] = y
        else:
            cut = ring_len - a
            ring[:, a:] = y[:, :cut]
            ring[:, :b - ring_len] = y[:, cut:]
    return out
