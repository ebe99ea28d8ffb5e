"""Audio nodes: load and save files, place, change the level, resample, and mix dialogue over music.

The signal processing lives in ``nodes.audiodsp`` (plain numpy functions); these nodes check
their params, call it and wrap the result as an immutable ``Audio`` value.
"""
from __future__ import annotations

import json
import os

import numpy as np

from nodegraph import (Audio, Choice, Context, GraphKeys, Int, Number, Path, Text, Variadic, add_wav_info, atomic_path,
                       node)

from . import audiodsp

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a", ".aac", ".opus")
Rate = Int(min=8000, max=192000)
Seconds = Number(min=0.0, max=36000.0)


@node("audio.load", title="Load audio", category="Audio", determinism="reads-files", cost="io")
def load(path: Path(kind="audio", extensions=AUDIO_EXTENSIONS, must_exist=True)) -> Audio:
    """Read an audio file (WAV, FLAC, OGG, MP3, AIFF; other formats through FFmpeg) at its own rate.

    Mono stays mono and stereo stays stereo; a file with more channels is folded to stereo
    (even-numbered channels to the left, odd to the right).

    Args:
        path: the audio file; relative paths are relative to the graph file.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"audio file not found: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder, not an audio file")
    samples, rate = _read(path)
    if samples.shape[0] == 0:
        raise ValueError(f"{path} holds no audio (0 frames)")
    if not np.isfinite(samples).all():
        raise ValueError(f"{path} holds samples that are not finite numbers")
    if samples.shape[1] > 2:
        samples = np.stack([samples[:, 0::2].mean(axis=1), samples[:, 1::2].mean(axis=1)], axis=1)
    return Audio(samples.astype(np.float32), int(rate))


def _read(path: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
        return samples, int(rate)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        first_error = e
    try:  # formats libsndfile does not read (AAC, M4A, Opus in Matroska ...)
        return _read_av(path)
    except Exception:  # noqa: BLE001 - the soundfile message is the clearer one
        pass
    detail = str(first_error).strip() or type(first_error).__name__
    raise ValueError(f"{path} is not a readable audio file ({detail})")


def _read_av(path: str) -> tuple[np.ndarray, int]:
    import av

    with av.open(path) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        chunks, rate, layout = [], None, None
        for frame in container.decode(stream):
            if rate is None:
                rate, layout = frame.sample_rate, len(frame.layout.channels)
            a = frame.to_ndarray()
            if frame.format.is_planar:
                a = a.T
            else:
                a = a.reshape(-1, layout)
            if a.dtype.kind in "iu":
                a = a.astype(np.float32) / float(np.iinfo(a.dtype).max)
            chunks.append(a.astype(np.float32))
    if rate is None or not chunks:
        raise ValueError("no audio frames")
    return np.concatenate(chunks, axis=0), int(rate)


_SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


@node("audio.save", title="Save audio", category="Output", output=True, cost="io")
def save(audio: Audio, filename: Text(output_file=(".wav", ".flac")) = "audio.wav", format: Choice("auto", "wav", "flac") = "auto",
         depth: Choice("16", "24", "float") = "24", ctx: Context = None) -> Path:
    """Write audio as WAV or FLAC in the output folder, with its provenance record (``nodegraph
    provenance FILE`` prints it; a FLAC file also carries the graph that made it).

    Samples past +-1.0 are clipped (integer formats cannot hold them); use audio.mix, whose
    limiter keeps a mix inside, or audio.gain to lower a loud signal first.

    Args:
        audio: the audio to write.
        filename: file name inside the output folder; with format auto, '.flac' writes FLAC and
            anything else WAV ('.wav' is added when the name has neither).
        format: wav or flac, or auto to follow the file name.
        depth: bits per sample: 16 or 24 (integer) or float (32-bit, WAV only).
    """
    import soundfile as sf

    lower = filename.lower()
    if format == "auto":
        format = "flac" if lower.endswith(".flac") else "wav"
    ext = "." + format
    if not lower.endswith(ext):
        filename += ext
    if format == "flac" and depth == "float":
        raise ValueError("depth 'float' cannot be written as FLAC (FLAC holds 16 or 24 bits); choose 16 or 24")
    target = ctx.output_path(filename, "filename")
    samples = np.clip(audio.samples, -1.0, 1.0)
    made = ctx.provenance(target)  # None with --no-embed
    carried = None
    if made is not None:  # FLAC: the graph and the record; WAV: the record (no graph: WAV is not reopened)
        keep = ("node", "type", "graph", "base") if format == "flac" else ("node", "type")
        carried = {k: made[k] for k in keep if k in made}
        if made.get("record") is not None:
            carried[GraphKeys.provenance] = made["record"]
        carried = json.dumps({GraphKeys.flac: carried}, sort_keys=True)
    with atomic_path(target) as tmp:
        with sf.SoundFile(tmp, "w", samplerate=audio.rate, channels=audio.channels, format=format.upper(),
                          subtype=_SUBTYPES[depth]) as f:
            if format == "flac" or carried is None:
                f.software = "nodegraph"
            if format == "flac" and carried is not None:
                f.comment = carried
            f.write(samples)
        if format == "wav" and carried is not None:  # libsndfile drops a WAV comment past ~2 KB
            add_wav_info(tmp, {"ISFT": "nodegraph", "ICMT": carried})
    return str(target)


@node("audio.delay", title="Delay audio", category="Audio")
def delay(audio: Audio, seconds: Seconds = 0.0) -> Audio:
    """Put silence before the audio, to start a line at a given time in a mix.

    Args:
        audio: the audio to place.
        seconds: how much silence to put first.
    """
    return Audio(audiodsp.place(audio.samples, audio.rate, seconds), audio.rate)


@node("audio.gain", title="Audio gain", category="Audio")
def gain(audio: Audio, db: Number(min=-96.0, max=48.0) = 0.0) -> Audio:
    """Make audio louder or quieter. No limiting: samples may go past 1.0 (audio.mix limits).

    Args:
        audio: the audio to change.
        db: the change in decibels: -6 halves the amplitude, +6 doubles it.
    """
    return Audio(audiodsp.gain_db(audio.samples, db), audio.rate)


@node("audio.resample", title="Resample audio", category="Audio")
def resample(audio: Audio, rate: Rate = 48000) -> Audio:
    """Change the sample rate (band-limited: no aliasing, no loss inside the band kept).

    Args:
        audio: the audio to convert.
        rate: the new samples per second.
    """
    return Audio(audiodsp.resample(audio.samples, audio.rate, rate), rate)


@node("audio.mix", title="Mix audio", category="Audio",  # about 8 stereo float32 copies at its peak
      memory=lambda p: (int(p["duration"] * p["rate"]) * 2 * 4 * 8, ("duration", "rate")) if p["duration"] > 0 else None)
def mix(tracks: Variadic[Audio], music: Audio | None = None,
        track_gain_db: Number(min=-60.0, max=24.0) = 0.0, music_gain_db: Number(min=-60.0, max=24.0) = -8.0,
        duck_db: Number(min=0.0, max=60.0) = 10.0, duck_threshold_db: Number(min=-90.0, max=0.0) = -40.0,
        attack: Number(min=0.0, max=5.0) = 0.05, release: Number(min=0.0, max=10.0) = 0.5,
        fade_in: Seconds = 0.5, fade_out: Seconds = 2.0, rate: Rate = 48000,
        duration: Seconds = 0.0) -> Audio:
    """Mix dialogue and effects over music: the music is lowered while the tracks sound.

    Every input is brought to ``rate`` (band-limited resampling; any rate is accepted) and to
    stereo. The tracks are summed from time 0 (place each with audio.delay). The music gets its
    gain, its fades and the ducking: wherever the summed tracks go above the threshold it is
    lowered by ``duck_db``, smoothly. The sum is soft-limited only if it would pass 1.0.

    Args:
        tracks: dialogue lines, effects (link as many as you like).
        music: the music bed, optional.
        track_gain_db: level change of every track, dB.
        music_gain_db: level change of the music before ducking, dB.
        duck_db: how much the music goes down under the tracks, dB (0: no ducking).
        duck_threshold_db: track level (dBFS peak) above which the music ducks.
        attack: how fast the music goes down when a track starts, seconds.
        release: how fast it comes back once the tracks stop (and a 0.25 s hold has passed):
            a time constant, two thirds of the way back after this long, all of it after 4 or 5 times it.
        fade_in: fade-in of the music, seconds.
        fade_out: fade-out of the music, ending where the mix (or the music) ends, seconds.
        rate: sample rate of the result.
        duration: length of the result in seconds; 0 takes the longest input.
    """
    if not tracks and music is None:
        raise ValueError("nothing to mix: link at least one track or the music")
    voiced = [audiodsp.to_stereo(audiodsp.resample(t.samples, t.rate, rate)) for t in tracks]
    bed = audiodsp.to_stereo(audiodsp.resample(music.samples, music.rate, rate)) if music is not None else None
    lengths = [len(v) for v in voiced] + ([len(bed)] if bed is not None else [])
    length = int(round(duration * rate)) if duration > 0 else max(lengths)
    tg = audiodsp.db_to_gain(track_gain_db)
    key = audiodsp.mix([(v, 0, tg) for v in voiced], length, channels=2, limit=False) if voiced else None
    parts = [(key, 0, 1.0)] if key is not None else []
    if bed is not None:
        bed = audiodsp.gain_db(bed[:length], music_gain_db)
        bed = audiodsp.fade(bed, rate, fade_in, fade_out)
        if key is not None and duck_db > 0:
            bed = audiodsp.duck(bed, key, rate, duck_db, attack, release, duck_threshold_db)
        parts.append((bed, 0, 1.0))
    return Audio(audiodsp.mix(parts, length, channels=2), rate)
