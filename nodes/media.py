"""Video in and out: stills as video, loading video files, and writing MP4 (H.264 + AAC, PyAV).

The MP4 writer encodes half-second segments separately (cut at the video's shot boundaries, so a
shot that moved in time keeps its segments), each keyed by its frames' digests and the encoder
settings, and keeps the encoded segments in the result cache. Re-rendering after an edit
re-encodes only the segments whose frames changed, then joins all segments into the file (a
stream copy, no re-encoding). Every file written embeds the graph and the node that made it.
"""
from __future__ import annotations

import json
import os
from fractions import Fraction

import av
import blake3
import msgpack
import numpy as np

from nodegraph import Audio, Choice, Context, GraphKeys, Image, Int, Number, Path, Text, ValueError_, Video, atomic_path, node

AUDIO_RATE = 48000


@node("video.still", title="Image to video", category="Video")
def still(image: Image, duration: Number(min=0.04, max=36000.0) = 5.0, fps: Int(min=1, max=120) = 24) -> Video:
    """A video that shows one image for ``duration`` seconds.

    Args:
        image: the picture (RGB; transparency is dropped).
        duration: length in seconds.
        fps: frames per second.
    """
    frame = np.ascontiguousarray(image.rgb())
    frame.flags.writeable = False
    n = max(1, round(duration * fps))
    key = image.digest()
    return Video(lambda i: frame, n, image.width, image.height, fps, keep=frame, frame_key=lambda i: key)


class _Decoder:
    """Frames of a video file by index, decoding forward and seeking back only when asked."""

    def __init__(self, path: str, n: int):
        import threading

        self.path, self.n = path, n
        self.lock = threading.Lock()  # one decoder: frames are asked for from encoder threads
        self.container = None
        self.frames = None
        self.next_index = 0
        self.last: tuple[int, np.ndarray] | None = None

    def _open(self) -> None:
        if self.container is not None:
            self.container.close()
        self.container = av.open(self.path)
        self.frames = self.container.decode(video=0)
        self.next_index = 0

    def __call__(self, i: int) -> np.ndarray:
        with self.lock:
            return self._frame(i)

    def _frame(self, i: int) -> np.ndarray:
        if self.last is not None and self.last[0] == i:
            return self.last[1]
        if self.container is None or i < self.next_index:
            self._open()
        arr = None
        while self.next_index <= i:
            try:
                frame = next(self.frames)
            except StopIteration:  # container said more frames than it holds: repeat the last one
                if self.last is None:
                    raise ValueError_(f"{self.path}: no frame {i}") from None
                return self.last[1]
            arr = frame.to_ndarray(format="rgb24")
            self.last = (self.next_index, arr)
            self.next_index += 1
        return self.last[1] if arr is None else arr


@node("video.load", title="Load video", category="Video", determinism="reads-files", cost="io")
def load_video(path: Path(kind="video", extensions=(".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"), must_exist=True)) -> Video:
    """Open a video file (with its sound, if any). Frames are decoded when needed, not all at once.

    Args:
        path: the video file; relative paths are relative to the graph file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video file not found: {path}")
    h = blake3.blake3()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    file_digest = h.digest()
    try:
        with av.open(path) as c:
            if not c.streams.video:
                raise ValueError_(f"{path} has no video stream")
            vs = c.streams.video[0]
            fps = vs.average_rate or vs.guessed_rate or Fraction(24)
            width, height = vs.codec_context.width, vs.codec_context.height
            n = vs.frames or 0
            if not n:
                n = sum(1 for _ in c.decode(video=0))
            audio = _decode_audio(c) if c.streams.audio else None
    except av.error.FFmpegError as e:
        raise ValueError(f"{path} is not a readable video: {e}") from None
    if audio is not None:  # AAC pads the end: keep the sound no longer than the pictures
        keep = min(audio.frames, int(round(n / fps * audio.rate)))
        audio = Audio(audio.samples[:keep], audio.rate)
    decoder = _Decoder(path, n)
    return Video(decoder, n, width, height, Fraction(fps), audio, keep=decoder,
                 frame_key=lambda i: blake3.blake3(file_digest + i.to_bytes(8, "little")).digest(),
                 digest=blake3.blake3(b"video-file\0" + file_digest).digest())


def _decode_audio(container) -> Audio | None:
    try:
        container.seek(0)
    except av.error.FFmpegError:
        pass
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="fltp", layout="stereo" if stream.channels > 1 else "mono", rate=stream.rate)
    parts = []
    for frame in container.decode(audio=0):
        for f in resampler.resample(frame):
            parts.append(f.to_ndarray())
    if not parts:
        return None
    return Audio(np.concatenate(parts, axis=1).T.astype(np.float32), stream.rate)


# -- writing ------------------------------------------------------------------------------------
def _x264(settings: dict) -> dict:
    seg = settings["segment"]
    return {"crf": str(settings["crf"]), "preset": settings["preset"],
            "x264-params": f"keyint={seg}:min-keyint={seg}:scenecut=0:bframes=0"}


def _encoder(settings: dict, fps: Fraction) -> "av.CodecContext":
    cc = av.CodecContext.create("libx264", "w")
    cc.width, cc.height, cc.pix_fmt = settings["w"], settings["h"], "yuv420p"
    cc.time_base, cc.framerate = 1 / fps, fps
    cc.options = _x264(settings)
    cc.flags |= av.codec.context.Flags.global_header
    return cc


def _encode_segment(video: Video, start: int, stop: int, settings: dict) -> bytes:
    """Frames [start, stop) encoded on their own (starting with a key frame, no B-frames), stored
    as the encoder's header and packets; every segment with the same settings shares the header."""
    cc = _encoder(settings, video.fps)
    cc.thread_count = 1  # segments are encoded in parallel instead
    packets = []
    for i in range(start, stop):  # the frame's pixels are read in place (no copy) when converted for x264
        frame = av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(video.rgb_frame(i)), format="rgb24")
        frame.pts = i - start
        packets += [[p.pts, p.dts, p.is_keyframe, bytes(p)] for p in cc.encode(frame)]
    packets += [[p.pts, p.dts, p.is_keyframe, bytes(p)] for p in cc.encode(None)]
    return msgpack.packb({"extradata": bytes(cc.extradata or b""), "packets": packets}, use_bin_type=True)


def segment_plan(video: Video, crf: int = 20, preset: str = "veryfast",
                 segment_seconds: float = 0.5) -> tuple[dict, list[tuple[int, int]]]:
    """The encoder settings and the frame ranges [start, stop) encoded as separate segments: the
    video is cut at its ``cuts`` (shot and crossfade boundaries), and each piece into segments of
    ``segment_seconds`` counted from the piece's start. A shot that only moves in time keeps the
    same segments (same frames, same keys), so they are reused, not encoded again."""
    seg = max(1, round(float(video.fps) * segment_seconds))
    settings = {"crf": crf, "preset": preset, "w": video.width, "h": video.height, "segment": seg,
                "fps": [video.fps.numerator, video.fps.denominator], "v": 2}
    edges = [0, *video.cuts, video.n_frames]
    return settings, [(s, min(s + seg, b)) for a, b in zip(edges, edges[1:]) for s in range(a, b, seg)]


def write_mp4(video: Video, target: str, ctx: Context, audio: Audio | None = None, crf: int = 20,
              preset: str = "veryfast", metadata: dict | None = None, segment_seconds: float = 0.5,
              workers: int = 2) -> dict:
    """Encode ``video`` (and ``audio``, default: its own sound) to ``target``; returns counts of
    segments encoded and reused."""
    if video.width % 2 or video.height % 2:
        raise ValueError_(f"H.264 needs even dimensions, the video is {video.width}x{video.height}")
    if video.n_frames == 0:
        raise ValueError_("the video has no frames")
    settings, bounds = segment_plan(video, crf, preset, segment_seconds)
    head = json.dumps(settings, sort_keys=True).encode()
    built: list[int] = []
    done = [0]

    def segment(k: int) -> dict:
        a, b = bounds[k]
        # the segment's key from its frames' keys, found here in the worker: the first segments
        # are encoding while the keys of the later ones are worked out
        h = blake3.blake3(b"h264-segment\0" + head)
        for i in range(a, b):
            h.update(video.key(i))

        def make() -> bytes:
            built.append(k)
            return _encode_segment(video, a, b, settings)

        data = msgpack.unpackb(ctx.artifact(h.digest(), make), raw=False)
        done[0] += 1
        ctx.progress(0.9 * done[0] / len(bounds), f"segment {done[0]}/{len(bounds)}")
        return data

    def encoded_sound() -> dict | None:
        """The sound as AAC packets (a renderer's lazy mix is made here, beside the pictures)."""
        track = video.audio if audio is None else audio
        if track is None:
            return None
        akey = blake3.blake3(b"aac\0" + json.dumps(AAC, sort_keys=True).encode() + track.digest()
                             + repr(round(video.duration, 6)).encode()).digest()
        return msgpack.unpackb(ctx.artifact(akey, lambda: _encode_audio(track, video.duration)), raw=False)

    from concurrent.futures import ThreadPoolExecutor

    # x264, AAC and most frame work release the GIL; the sound has a thread of its own, so the
    # pictures keep every worker while it is mixed and encoded
    with ThreadPoolExecutor(1) as side, ThreadPoolExecutor(max(1, workers)) as pool:
        pending = side.submit(encoded_sound)
        segments = list(pool.map(segment, range(len(bounds)))) if workers > 1 else [segment(k) for k in range(len(bounds))]
        sound = pending.result()
    made = len(built)
    with atomic_path(target) as tmp:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "use_metadata_tags+faststart"}) as out:
            for key, value in (metadata or {}).items():
                out.metadata[key] = value
            vout = out.add_stream("libx264", rate=video.fps)  # opened with the segments' settings, never fed
            vout.width, vout.height, vout.pix_fmt = video.width, video.height, "yuv420p"
            vout.options = _x264(settings)
            vout.codec_context.time_base = 1 / video.fps
            vout.codec_context.flags |= av.codec.context.Flags.global_header
            aout = None
            if sound is not None:  # opened with the same settings as the encoder that made the packets
                aout = out.add_stream("aac", rate=AUDIO_RATE)
                aout.layout, aout.bit_rate = AAC["layout"], AAC["bit_rate"]
                aout.codec_context.flags |= av.codec.context.Flags.global_header
            out.start_encoding()
            if bytes(vout.codec_context.extradata or b"") != segments[0]["extradata"]:
                raise ValueError_("the H.264 encoder's headers changed between segments; clear the cache and retry")
            tb = 1 / video.fps
            for (a, _), segment in zip(bounds, segments):
                for pts, dts, key, data in segment["packets"]:
                    packet = av.Packet(data)
                    packet.pts, packet.dts, packet.time_base = pts + a, dts + a, tb
                    packet.is_keyframe, packet.stream = key, vout
                    out.mux(packet)
            if aout is not None:
                if bytes(aout.codec_context.extradata or b"") != sound["extradata"]:
                    raise ValueError_("the AAC encoder's header differs from the cached sound; clear the cache and retry")
                atb = Fraction(1, AUDIO_RATE)
                for pts, dts, data in sound["packets"]:
                    packet = av.Packet(data)
                    packet.pts, packet.dts, packet.time_base, packet.stream = pts, dts, atb, aout
                    out.mux(packet)
    ctx.progress(1.0)
    return {"segments": len(bounds), "encoded": made, "reused": len(bounds) - made}


AAC = {"rate": AUDIO_RATE, "layout": "stereo", "bit_rate": 192000, "coder": "fast"}  # "fast": 2x quicker, fine at 192k


def _aac_context() -> "av.CodecContext":
    cc = av.CodecContext.create("aac", "w")
    cc.sample_rate, cc.layout, cc.format, cc.bit_rate = AAC["rate"], AAC["layout"], "fltp", AAC["bit_rate"]
    cc.time_base = Fraction(1, AAC["rate"])
    cc.options = {"aac_coder": AAC["coder"]}
    cc.flags |= av.codec.context.Flags.global_header
    return cc


def _encode_audio(audio: Audio, duration: float) -> bytes:
    """The sound as AAC packets (48 kHz stereo), trimmed or padded to ``duration``."""
    from nodes.audiodsp import resample, to_stereo

    samples = audio.samples
    if audio.rate != AUDIO_RATE:
        samples = resample(samples, audio.rate, AUDIO_RATE)
    samples = to_stereo(samples)
    n = int(round(duration * AUDIO_RATE))
    if len(samples) < n:
        samples = np.concatenate([samples, np.zeros((n - len(samples), 2), np.float32)])
    samples = np.ascontiguousarray(np.clip(samples[:n], -1.0, 1.0).T.astype(np.float32))
    cc = _aac_context()
    packets = []
    step = cc.frame_size or 1024
    for s in range(0, n, step):
        chunk = samples[:, s:s + step]
        if chunk.shape[1] < step:
            chunk = np.pad(chunk, ((0, 0), (0, step - chunk.shape[1])))
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = AUDIO_RATE, s
        packets += [[p.pts, p.dts, bytes(p)] for p in cc.encode(frame)]
    packets += [[p.pts, p.dts, bytes(p)] for p in cc.encode(None)]
    return msgpack.packb({"extradata": bytes(cc.extradata or b""), "packets": packets}, use_bin_type=True)


@node("video.sound", title="Sound of a video", category="Video")
def sound(video: Video) -> Audio:
    """The sound track of a video (to transcribe it, clone its speaker's voice, or mix it).

    Args:
        video: a video with sound (a loaded file, or anything a node attached sound to).
    """
    if video.audio is None:
        raise ValueError_("this video has no sound track")
    return video.audio


@node("video.save_mp4", title="Save MP4", category="Output", output=True, cost="io")
def save_mp4(video: Video, filename: Text(output_file=(".mp4", ".m4v", ".mov")) = "video.mp4", audio: Audio | None = None,
             quality: Int(min=0, max=51) = 20, speed: Choice("ultrafast", "veryfast", "faster", "medium", "slow") = "veryfast",
             ctx: Context = None) -> Path:
    """Write an MP4 (H.264 video, AAC sound) into the output folder, with the graph that made it
    and its provenance record in the file's metadata (``nodegraph run`` can re-open a graph from
    it, ``nodegraph provenance`` prints the record).

    Args:
        video: the pictures (and their sound, unless ``audio`` is connected).
        filename: file name inside the output folder ('.mp4' is added if missing).
        audio: a sound track to use instead of the video's own.
        quality: x264 CRF: lower is better and bigger (18-23 is typical).
        speed: x264 preset: faster encodes give bigger files.
    """
    if not filename.lower().endswith((".mp4", ".m4v", ".mov")):
        filename += ".mp4"
    target = ctx.output_path(filename, "filename")
    meta = {}
    made = ctx.provenance(target)  # None with --no-embed
    if made is not None:
        meta[GraphKeys.mp4_node] = json.dumps({"node": made["node"], "type": made["type"]})
        if made.get("graph"):
            meta.update({GraphKeys.mp4_graph: made["graph"], GraphKeys.mp4_base: made["base"]})
        if made.get("record_text"):
            meta[GraphKeys.mp4_provenance] = made["record_text"]
    stats = write_mp4(video, str(target), ctx, audio, quality, speed, meta)
    ctx.log(f"{stats['encoded']} of {stats['segments']} segments encoded, {stats['reused']} reused")
    return str(target)
