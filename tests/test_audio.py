"""Audio DSP and nodes: resampling, fades, ducking, mixing, and files through the evaluator."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from nodegraph import Audio
from nodegraph.commands import AddNode, Batch, Connect
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodes import audio as audio_nodes
from nodes import audiodsp as dsp


def sine(freq, seconds, rate, amp=0.5, channels=1):
    t = np.arange(int(round(seconds * rate))) / rate
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def rms_db(x):
    return 20 * np.log10(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)) + 1e-12)


def peak_freq(x, rate):
    m = np.asarray(x, np.float64).mean(axis=1) if x.ndim == 2 else x
    spec = np.abs(np.fft.rfft(m * np.hanning(len(m))))
    return np.fft.rfftfreq(len(m), 1 / rate)[int(np.argmax(spec))]


# -- resampling --------------------------------------------------------------------------------
@pytest.mark.parametrize("src, dst, freq", [(22050, 48000, 1000.0), (44100, 48000, 3000.0), (22050, 48000, 9000.0),
                                            (48000, 44100, 10000.0), (48000, 22050, 5000.0), (44101, 48000, 440.0),
                                            (8000, 48000, 440.0), (96000, 48000, 15000.0)])
def test_resampling_keeps_a_sine_exact(src, dst, freq):
    x = sine(freq, 1.0, src, amp=0.8)
    y = dsp.resample(x, src, dst)
    assert y.dtype == np.float32 and y.shape == (dst, 1)
    ref = sine(freq, 1.0, dst, amp=0.8)
    inner = slice(dst // 20, -dst // 20)  # away from the edges, where the signal starts and stops
    assert np.abs(y[inner] - ref[inner]).max() < 1e-4
    assert peak_freq(y, dst) == pytest.approx(freq, abs=1.5)


def test_downsampling_removes_what_the_new_rate_cannot_hold():
    # 15 kHz does not fit under 22050 Hz's Nyquist (11025 Hz): it must vanish, not fold to 7050 Hz
    high = sine(15000.0, 1.0, 48000, amp=0.8)
    y = dsp.resample(high, 48000, 22050)
    assert rms_db(y[1000:-1000]) < -80
    # a mixture keeps its low part intact
    mixed = sine(1000.0, 1.0, 48000, amp=0.4) + high
    y = dsp.resample(mixed, 48000, 22050)
    ref = sine(1000.0, 1.0, 22050, amp=0.4)
    assert np.abs(y[1000:-1000] - ref[1000:-1000]).max() < 1e-3


def test_resampling_stereo_lengths_and_dc():
    x = np.concatenate([sine(500.0, 0.5, 22050), np.full((11025, 1), 0.25, np.float32)], axis=1)
    y = dsp.resample(x, 22050, 48000)
    assert y.shape == (24000, 2)
    assert np.abs(y[2000:-2000, 1] - 0.25).max() < 1e-5  # DC passes at unit gain
    assert dsp.resample(x, 22050, 22050).shape == x.shape
    assert dsp.resample(np.zeros((0, 1), np.float32), 22050, 48000).shape == (0, 1)
    assert dsp.resample(np.zeros((3, 2), np.float32), 44100, 48000).shape == (3, 2)  # round(3*48000/44100)
    with pytest.raises(ValueError, match="source rate"):
        dsp.resample(x, 0, 48000)


# -- levels and fades --------------------------------------------------------------------------
def test_gain_fade_place_and_stereo():
    x = np.ones((1000, 1), np.float32)
    assert dsp.gain_db(x, -6.0206)[0, 0] == pytest.approx(0.5, abs=1e-4)
    eq = dsp.fade(x, 1000, fade_in_s=0.1, fade_out_s=0.2)
    assert eq[0, 0] == 0 and eq[50, 0] == pytest.approx(np.sin(np.pi / 4), abs=1e-6)  # equal power: -3 dB midway
    assert eq[500, 0] == 1 and eq[-100, 0] == pytest.approx(np.sin(np.pi / 4), abs=0.01) and eq[-1, 0] < 0.01
    lin = dsp.fade(x, 1000, fade_in_s=0.1, curve="linear")
    assert lin[50, 0] == pytest.approx(0.5)
    assert dsp.fade(x, 1000, fade_in_s=5.0).shape == x.shape  # longer than the signal: clamped
    placed = dsp.place(x, 1000, 0.25)
    assert placed.shape == (1250, 1) and not placed[:250].any() and (placed[250:] == 1).all()
    st = dsp.to_stereo(x[:, 0])
    assert st.shape == (1000, 2) and (st[:, 0] == st[:, 1]).all()
    with pytest.raises(ValueError, match="start_s"):
        dsp.place(x, 1000, -1.0)


def test_envelope_follows_attack_and_release():
    rate = 8000
    x = np.zeros((rate * 2, 1), np.float32)
    x[rate // 2: rate, 0] = 0.5 * np.sin(np.arange(rate // 2) * 0.3)
    env = dsp.envelope(x, rate, attack_s=0.01, release_s=0.2)
    assert env.shape == (rate * 2,)
    assert env[rate // 4] < 1e-6  # silence before
    assert env[rate // 2 + 400] == pytest.approx(0.5, abs=0.05)  # risen within 50 ms
    after = env[rate + int(0.2 * rate)]  # one release time after the end: down to about 1/e
    assert 0.5 * np.exp(-1) * 0.7 < after < 0.5 * np.exp(-1) * 1.3


def test_duck_lowers_the_music_by_the_amount_only_where_dialogue_is():
    rate = 16000
    music = sine(220.0, 8.0, rate, amp=0.5, channels=2)
    dialogue = np.zeros((8 * rate, 1), np.float32)
    voice = np.random.default_rng(1).standard_normal(3 * rate).astype(np.float32) * 0.1
    dialogue[2 * rate: 5 * rate, 0] = voice  # speech from 2 s to 5 s
    out = dsp.duck(music, dialogue, rate, amount_db=10, attack_s=0.05, release_s=0.3, threshold_db=-40)
    assert out.shape == music.shape

    def level(a, b):
        return rms_db(out[int(a * rate):int(b * rate)]) - rms_db(music[int(a * rate):int(b * rate)])

    assert level(0.0, 1.7) == pytest.approx(0.0, abs=0.1)  # before: untouched
    assert level(2.3, 4.9) == pytest.approx(-10.0, abs=0.5)  # under the speech: 10 dB down
    assert level(6.8, 8.0) == pytest.approx(0.0, abs=0.1)  # after release: back
    # smooth: the gain never jumps (no clicks)
    gain = np.abs(out[:, 0]) / np.maximum(np.abs(music[:, 0]), 1e-3)
    steady = np.abs(music[:, 0]) > 0.2
    g = gain[steady]
    assert np.abs(np.diff(g)).max() < 0.02
    # dialogue shorter than the music counts as silence after its end
    short = dsp.duck(music, dialogue[: 3 * rate], rate, amount_db=10)
    assert short.shape == music.shape


def test_mix_sums_places_and_never_clips():
    a = sine(300.0, 1.0, 8000, amp=0.3)
    b = sine(500.0, 0.5, 8000, amp=0.3, channels=2)
    out = dsp.mix([(a, 0, 1.0), (b, 4000, 0.5)], 8000)
    assert out.shape == (8000, 2)
    expect = np.repeat(a, 2, axis=1)
    expect[4000:] += b[:4000] * 0.5
    assert np.array_equal(out, expect)  # a mix that fits is left exactly as summed
    loud = dsp.mix([(a, 0, 3.0), (a, 0, 3.0), (b, -2000, 4.0)], 8000)  # peaks near 3.0
    assert np.abs(loud).max() <= 1.0
    quiet = np.abs(loud) < 0.85
    assert quiet.any()  # soft clipping bends only the loud part
    assert dsp.mix([], 10).shape == (10, 1)
    with pytest.raises(ValueError, match="length"):
        dsp.mix([(a, 0, 1.0)], -1)


def test_soft_clip_is_continuous_and_bounded():
    x = np.linspace(-5, 5, 10001, dtype=np.float32)
    y = dsp.soft_clip(x, knee=0.8)
    assert np.abs(y).max() <= 1.0
    assert np.array_equal(y[np.abs(x) <= 0.8], x[np.abs(x) <= 0.8])
    assert np.all(np.diff(y) >= 0) and np.abs(np.diff(y)).max() < 0.002  # monotone, no jumps


def test_reverb_decays_and_is_stereo():
    rate = 16000
    imp = np.zeros((rate * 3, 1), np.float32)
    imp[0] = 1.0
    wet = dsp.reverb(imp, rate, decay_s=1.0, wet=1.0, dry=0.0)
    assert wet.shape == (rate * 3, 2)
    early, late = rms_db(wet[int(0.1 * rate):int(0.3 * rate)]), rms_db(wet[int(1.1 * rate):int(1.3 * rate)])
    assert 40 < early - late < 80  # about 60 dB per decay time
    assert abs(np.corrcoef(wet[:, 0], wet[:, 1])[0, 1]) < 0.5


# -- nodes called directly ------------------------------------------------------------------------
def test_gain_delay_and_resample_nodes():
    a = Audio(sine(440.0, 1.0, 22050), 22050)
    assert np.allclose(audio_nodes.gain(a, db=-20).samples, a.samples * 0.1, atol=1e-6)
    d = audio_nodes.delay(a, seconds=0.5)
    assert d.rate == 22050 and d.frames == a.frames + 11025 and not d.samples[:11025].any()
    r = audio_nodes.resample(a, rate=48000)
    assert r.rate == 48000 and r.frames == 48000


def test_mix_node_ducks_the_music_under_dialogue_at_any_rate():
    music = Audio(sine(330.0, 6.0, 44100, amp=0.5, channels=2), 44100)
    line = np.zeros((int(1.5 * 22050), 1), np.float32)
    line[:, 0] = np.random.default_rng(2).standard_normal(len(line)) * 0.2
    dialogue = audio_nodes.delay(Audio(line, 22050), seconds=2.0)  # speech from 2.0 to 3.5 s
    out = audio_nodes.mix(tracks=(dialogue,), music=music, music_gain_db=-6, duck_db=12, release=0.2,
                          fade_in=0, fade_out=0)
    assert out.rate == 48000 and out.channels == 2 and out.frames == 6 * 48000  # the longest input
    ref = dsp.gain_db(dsp.to_stereo(dsp.resample(music.samples, 44100, 48000)), -6)
    s = out.samples

    def level(a, b):
        return rms_db(s[int(a * 48000):int(b * 48000)]) - rms_db(ref[int(a * 48000):int(b * 48000)])

    assert level(0.2, 1.5) == pytest.approx(0.0, abs=0.1)
    assert level(5.0, 6.0) == pytest.approx(0.0, abs=0.1)
    # under the speech the mix holds the dialogue plus the music 12 dB down
    seg = slice(int(2.4 * 48000), int(3.4 * 48000))
    music_part = s[seg] - dsp.to_stereo(dsp.resample(dialogue.samples, 22050, 48000))[seg]
    assert rms_db(music_part) - rms_db(ref[seg]) == pytest.approx(-12.0, abs=0.7)


def test_mix_node_limits_and_sets_the_duration():
    loud = Audio(sine(200.0, 2.0, 48000, amp=0.9), 48000)
    out = audio_nodes.mix(tracks=(loud, loud, loud), track_gain_db=12, duration=1.5)
    assert out.frames == 72000 and np.abs(out.samples).max() <= 1.0
    only_music = audio_nodes.mix(tracks=(), music=loud, fade_in=0.5, fade_out=0.5)
    assert only_music.frames == 96000 and np.abs(only_music.samples[:10]).max() < 0.01
    with pytest.raises(ValueError, match="nothing to mix"):
        audio_nodes.mix(tracks=())


# -- files through the evaluator -------------------------------------------------------------------
def _save_load_graph(filename, fmt="auto", depth="24"):
    doc = Document()
    Batch([AddNode("music.compose", "music", {"duration": 2.0, "mood": "happy", "sample_rate": 44100}),
           AddNode("audio.save", "save", {"filename": filename, "format": fmt, "depth": depth}),
           Connect("music", "audio", "save", "audio")])(doc)
    return doc


@pytest.mark.parametrize("filename, fmt, kind, depth, tol", [
    ("music.wav", "auto", "WAV", "24", 2e-7), ("music.flac", "auto", "FLAC", "16", 4e-5),
    ("bed", "flac", "FLAC", "24", 2e-7), ("raw.wav", "wav", "WAV", "float", 0.0)])
def test_save_and_load_round_trip(tmp_path, registry, filename, fmt, kind, depth, tol):
    out = tmp_path / "out"
    ev = Evaluator(registry, output_dir=out)
    saved = ev.run(_save_load_graph(filename, fmt, depth))
    assert saved.ok, {k: r.error for k, r in saved.nodes.items()}
    path = saved.value("save")
    info = sf.info(path)
    assert info.format == kind and info.samplerate == 44100 and info.channels == 2
    assert path.endswith("." + kind.lower())
    original = saved.value("music")
    doc = Document()
    AddNode("audio.load", "load", {"path": path})(doc)
    loaded = ev.run(doc).value("load")
    assert loaded.rate == 44100 and loaded.samples.shape == original.samples.shape
    assert np.abs(loaded.samples - original.samples).max() <= tol


def test_flac_cannot_hold_float(tmp_path, registry):
    result = Evaluator(registry, output_dir=tmp_path).run(_save_load_graph("x.flac", "flac", "float"))
    assert result.nodes["save"].status == "failed" and "FLAC" in result.nodes["save"].error


def test_missing_and_corrupt_files_fail_clearly(tmp_path, registry):
    (tmp_path / "noise.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 8)
    (tmp_path / "empty.flac").write_bytes(b"")
    doc = Document()
    Batch([AddNode("audio.load", "missing", {"path": "sounds/nothing.wav"}),
           AddNode("audio.load", "corrupt", {"path": "noise.wav"}),
           AddNode("audio.load", "empty", {"path": "empty.flac"}),
           AddNode("audio.gain", "louder", {"db": 6.0}), Connect("corrupt", "audio", "louder", "audio")])(doc)
    result = Evaluator(registry, output_dir=tmp_path / "out", base_dir=tmp_path).run(doc)
    missing, corrupt = result.nodes["missing"], result.nodes["corrupt"]
    assert missing.status == "failed" and "audio file not found" in missing.error
    assert str(tmp_path / "sounds/nothing.wav") in missing.error
    assert corrupt.status == "failed" and "not a readable audio file" in corrupt.error
    assert str(tmp_path / "noise.wav") in corrupt.error
    assert result.nodes["empty"].status == "failed" and str(tmp_path / "empty.flac") in result.nodes["empty"].error
    assert result.nodes["louder"].status == "skipped"


def test_load_reads_other_formats_and_folds_many_channels(tmp_path):
    rate = 22050
    tone = sine(440.0, 1.0, rate, amp=0.5)
    sf.write(tmp_path / "tone.ogg", tone, rate, format="OGG", subtype="VORBIS")
    ogg = audio_nodes.load(str(tmp_path / "tone.ogg"))
    assert ogg.rate == rate and ogg.channels == 1 and abs(ogg.frames - rate) < 1100
    assert peak_freq(ogg.samples, rate) == pytest.approx(440.0, abs=2)
    quad = np.concatenate([tone, tone * 0.5, -tone, tone * 0], axis=1)
    sf.write(tmp_path / "quad.wav", quad, rate)
    folded = audio_nodes.load(str(tmp_path / "quad.wav"))
    assert folded.channels == 2
    assert np.allclose(folded.samples[:, 0], 0.0, atol=1e-4)  # (ch0 + ch2) / 2
    assert np.allclose(folded.samples[:, 1], tone[:, 0] * 0.25, atol=1e-4)  # (ch1 + ch3) / 2


def test_load_falls_back_to_ffmpeg_for_aac(tmp_path):
    av = pytest.importorskip("av")
    rate = 44100
    tone = sine(440.0, 1.0, rate, amp=0.5)[:, 0]
    path = tmp_path / "line.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            container.mux(packet)
    a = audio_nodes.load(str(path))
    assert a.rate == rate and a.channels == 1 and abs(a.frames - rate) < 4096
    assert peak_freq(a.samples, rate) == pytest.approx(440.0, abs=2)


def test_the_sound_of_a_video_and_a_video_without_one():
    from nodegraph import Image, Video
    from nodes.media import sound

    still = Video.from_image(Image(np.zeros((8, 8, 3), np.uint8)), 24)
    with pytest.raises(ValueError, match="no sound track"):
        sound(still)
    track = Audio(np.linspace(-0.5, 0.5, 4800, dtype=np.float32), 48000)
    assert sound(still.with_audio(track)) is track
