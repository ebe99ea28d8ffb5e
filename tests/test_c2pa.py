"""Content credentials (nodegraph.credentials, `nodegraph keys`): a test identity made by the CLI
signs real PNG, MP4, MOV, WAV, FLAC and OTIO files; c2pa-python's reader finds the manifest, our
record round-trips, the digital source type is right, the only validation status is the
untrusted-signer one, the media decodes to the same pixels/frames/samples, a changed byte of
content is reported, and bad keys give clear errors that leave the file untouched."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import struct
import zlib
from pathlib import Path

import av
import c2pa
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from nodegraph import __version__
from nodegraph.cli import main
from nodegraph.credentials import (AI_GENERATED, NOT_AI, RECORD_LABEL, CredentialsError, embeds, load_identity,
                                   new_identity, read_manifest, sidecar_path, sign_file, signer_from, supported)

RECORD = {"graph_hash": "blake3:0f1e2d", "nodegraph": __version__, "seeds": [1, 2, 300, 4294967295],
          "models": [{"id": "sd15", "sha256": "ab" * 32, "licence": "CreativeML-OpenRAIL-M", "commercial": True}],
          "licences": {"unknown": [], "non_commercial": []}, "note": "ünïcode ✓", "nested": [[0, 1], {"x": None}]}
SR = 22050


@pytest.fixture(autouse=True)
def no_sign_env(monkeypatch):
    monkeypatch.delenv("NODEGRAPH_SIGN_KEY", raising=False)
    monkeypatch.delenv("NODEGRAPH_SIGN_CERT", raising=False)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The default identity, made by `nodegraph keys new` in a fresh config folder."""
    config = tmp_path_factory.mktemp("config")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NODEGRAPH_CONFIG_DIR", str(config))
        mp.delenv("NODEGRAPH_SIGN_KEY", raising=False)
        assert main(["keys", "new"]) == 0
        ident = signer_from(None)
    return ident, config / "keys"


# -- media -------------------------------------------------------------------------------------

def make_png(path: Path) -> None:
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path)


def make_video(path: Path, audio: bool = True) -> None:
    rng = np.random.default_rng(2)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        aus = c.add_stream("aac", rate=SR) if audio else None
        for _ in range(8):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), format="rgb24")
            for p in vs.encode(frame):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if aus is not None:
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(SR // 2) / SR)).astype(np.float32)
            for i in range(0, len(tone) - 1024, 1024):
                af = av.AudioFrame.from_ndarray(tone[None, i:i + 1024], format="flt", layout="mono")
                af.sample_rate = SR
                for p in aus.encode(af):
                    c.mux(p)
            for p in aus.encode():
                c.mux(p)


def make_audio(path: Path) -> None:
    tone = 0.3 * np.sin(2 * np.pi * 330 * np.arange(SR) / SR)
    sf.write(str(path), tone, SR, subtype="PCM_16")


def make_otio(path: Path) -> None:
    import opentimelineio as otio

    tl = otio.schema.Timeline(name="cut")
    tr = otio.schema.Track(name="V1")
    tr.append(otio.schema.Clip(name="shot", source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(48, 24))))
    tl.tracks.append(tr)
    otio.adapters.write_to_file(tl, str(path))


def decode(path: Path):
    """What a user sees or hears in the file."""
    ext = path.suffix.lower()
    if ext == ".png":
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    if ext in (".wav", ".flac"):
        data, sr = sf.read(str(path), dtype="int16")
        return sr, data
    if ext == ".otio":
        import opentimelineio as otio

        tl = otio.adapters.read_from_file(str(path))
        return [(c.name, c.source_range.duration.value) for c in tl.find_clips()]
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        samples = [f.to_ndarray() for f in c.decode(audio=0)] if c.streams.audio else []
    return frames, samples


MAKERS = {".png": make_png, ".mp4": make_video, ".mov": lambda p: make_video(p, audio=False),
          ".m4v": lambda p: make_video(p, audio=False), ".wav": make_audio, ".flac": make_audio, ".otio": make_otio}


def equal(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and bool((a == b).all())
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    return a == b


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- signing and reading back ---------------------------------------------------------------

@pytest.mark.parametrize("ext", [".png", ".mp4", ".mov", ".m4v", ".wav", ".flac", ".otio"])
def test_signed_output_reads_back_valid_with_the_record_and_decodes_the_same(keys, tmp_path, ext, monkeypatch):
    ident, _ = keys
    out = tmp_path / "render" / f"shot{ext}"
    out.parent.mkdir()
    MAKERS[ext](out)
    systemp = tmp_path.parent / f"{tmp_path.name}-systemp"      # where the native library would put temp files
    systemp.mkdir()
    monkeypatch.setenv("TMPDIR", str(systemp))
    before = decode(out)
    ai = ext != ".wav"
    holder = sign_file(out, RECORD, ident, ai_generated=ai)

    if ext == ".otio":      # c2pa-rs embeds nothing in OTIO: the manifest store is the sidecar
        assert not embeds(out) and holder == sidecar_path(out) == out.with_name("shot.otio.c2pa")
    else:
        assert embeds(out) and holder == out
    # nothing else appeared: no temp file, no sidecar beside an embedded manifest
    assert listing(tmp_path) == sorted(["render", f"render/shot{ext}"] + ([f"render/shot{ext}.c2pa"] if ext == ".otio" else []))
    assert equal(decode(out), before)
    assert os.listdir(systemp) == []

    info = read_manifest(out)
    assert info is not None
    assert info["record"] == RECORD
    assert info["title"] == f"shot{ext}"
    assert info["claim_generator"] == f"nodegraph {__version__}"
    assert info["digital_source_type"] == (AI_GENERATED if ai else NOT_AI)
    assert info["ai_generated"] is ai
    created = [a for a in info["actions"] if a["action"] == "c2pa.created"]
    assert len(created) == 1 and created[0]["softwareAgent"] == {"name": "nodegraph", "version": __version__}
    # intact and signed; the one thing a reader says is that it does not know the test signer
    assert info["validation_state"] == "Valid"
    assert [s["code"] for s in info["validation_status"]] == ["signingCredential.untrusted"]
    assert info["failures"] == [] and info["trusted"] is False
    assert info["embedded"] is (ext != ".otio")
    assert info["signature"]["common_name"] == "nodegraph test signer (default)"
    assert info["signature"]["alg"].lower() == "es256"


def test_c2pa_reader_itself_sees_the_manifest_and_our_assertion(keys, tmp_path):
    ident, _ = keys
    out = tmp_path / "a.png"
    make_png(out)
    sign_file(out, RECORD, ident, ai_generated=True, title="Hero shot")
    with c2pa.Reader(str(out)) as r:
        store = json.loads(r.json())
        assert r.get_validation_state() == "Valid"
    m = store["manifests"][store["active_manifest"]]
    assert m["title"] == "Hero shot"
    mine = [a for a in m["assertions"] if a["label"] == RECORD_LABEL]
    assert len(mine) == 1 and json.loads(mine[0]["data"]["record"]) == RECORD
    actions = [a for a in m["assertions"] if a["label"].startswith("c2pa.actions")][0]["data"]["actions"]
    assert actions[0]["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert not any("thumbnail" in a["label"] for a in m["assertions"])
    assert [s["code"] for s in store["validation_status"]] == ["signingCredential.untrusted"]


def test_a_reader_that_trusts_the_test_root_sees_a_trusted_chain(keys, tmp_path):
    ident, folder = keys
    out = tmp_path / "a.wav"
    make_audio(out)
    sign_file(out, RECORD, ident, ai_generated=False)
    info = read_manifest(out, trust_anchors=folder / "default.ca.pem")
    assert info["validation_state"] == "Trusted" and info["trusted"] is True
    assert info["validation_status"] == [] and info["failures"] == []


def test_signing_again_replaces_the_manifest(keys, tmp_path):
    ident, _ = keys
    out = tmp_path / "a.png"
    make_png(out)
    sign_file(out, {"take": 1}, ident, ai_generated=True)
    sign_file(out, {"take": 2}, ident, ai_generated=False)
    info = read_manifest(out)
    assert info["record"] == {"take": 2} and info["digital_source_type"] == NOT_AI and info["failures"] == []
    with c2pa.Reader(str(out)) as r:
        assert len(json.loads(r.json())["manifests"]) == 1


def test_unsigned_files_have_no_manifest(tmp_path):
    for ext, make in MAKERS.items():
        p = tmp_path / f"plain{ext}"
        make(p)
        assert read_manifest(p) is None, ext


# -- tampering -----------------------------------------------------------------------------

def _png_flip_pixel_byte(path: Path) -> None:
    """Change one byte of the image data and fix the chunk's CRC: a valid PNG with other pixels."""
    data = bytearray(path.read_bytes())
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            raw = bytearray(zlib.decompress(bytes(data[pos + 8:pos + 8 + length])))
            raw[(1 + 64 * 3) * 10 + 5] ^= 0xFF      # row 10 of the 64-pixel-wide RGB picture, not its filter byte
            body = zlib.compress(bytes(raw))
            chunk = struct.pack(">I4s", len(body), b"IDAT") + body + struct.pack(">I", zlib.crc32(b"IDAT" + body))
            data[pos:pos + 12 + length] = chunk
            path.write_bytes(bytes(data))
            return
        pos += 12 + length
    raise AssertionError("no IDAT")


def _flip_inside(path: Path, marker: bytes, skip: int) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(marker) + skip
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("ext,tamper,code", [
    (".png", _png_flip_pixel_byte, "assertion.dataHash.mismatch"),
    (".wav", lambda p: _flip_inside(p, b"data", 2000), "assertion.dataHash.mismatch"),
    (".mp4", lambda p: _flip_inside(p, b"mdat", 400), "assertion.bmffHash.mismatch"),
    (".otio", lambda p: p.write_text(p.read_text().replace('"shot"', '"shop"')), "assertion.dataHash.mismatch"),
])
def test_changed_content_is_reported_by_the_reader(keys, tmp_path, ext, tamper, code):
    ident, _ = keys
    out = tmp_path / f"a{ext}"
    MAKERS[ext](out)
    sign_file(out, RECORD, ident, ai_generated=True)
    before = decode(out)
    tamper(out)
    if ext == ".png":
        assert not equal(decode(out), before)      # still a PNG, other pixels
    info = read_manifest(out)
    assert info["validation_state"] == "Invalid"
    assert code in info["failures"]
    assert "signingCredential.untrusted" not in info["failures"]


# -- keys -------------------------------------------------------------------------------------

def test_keys_new_writes_a_private_key_and_refuses_to_overwrite(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NODEGRAPH_CONFIG_DIR", str(tmp_path / "cfg"))
    assert main(["keys", "new"]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "cfg" / "keys"
    assert str(folder / "default.key.pem") in out and "TESTING" in out and "untrusted" in out
    assert sorted(os.listdir(folder)) == ["default.ca.pem", "default.cert.pem", "default.key.pem"]
    assert (folder / "default.key.pem").stat().st_mode & 0o777 == 0o600
    key = (folder / "default.key.pem").read_bytes()

    assert main(["keys", "new"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (folder / "default.key.pem").read_bytes() == key
    assert main(["keys", "new", "--force"]) == 0
    assert (folder / "default.key.pem").read_bytes() != key
    assert (folder / "default.key.pem").stat().st_mode & 0o777 == 0o600

    assert main(["keys", "new", "--name", "studio", "--subject", "Studio Test"]) == 0
    capsys.readouterr()
    assert main(["keys", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("* default") and lines[1].startswith("  studio") and "CN=Studio Test" in lines[1]
    assert lines[-1] == f"runs sign with: {folder / 'default.key.pem'}"
    monkeypatch.setenv("NODEGRAPH_SIGN_KEY", str(folder / "studio.key.pem"))
    assert main(["keys", "show"]) == 0
    assert "CN=Studio Test" in capsys.readouterr().out
    assert main(["keys", "new", "--name", "../up"]) == 1
    assert "identity name" in capsys.readouterr().err and not (tmp_path / "cfg" / "up.key.pem").exists()


def test_run_sign_arguments(tmp_path, monkeypatch):
    import argparse

    from nodegraph.cli_keys import add_sign_args, signer_for_args

    monkeypatch.setenv("NODEGRAPH_CONFIG_DIR", str(tmp_path / "cfg"))
    p = argparse.ArgumentParser()
    add_sign_args(p)
    assert signer_for_args(p.parse_args([])) is None                     # not asked to sign
    with pytest.raises(CredentialsError, match="nodegraph keys new"):   # asked, but no identity yet
        signer_for_args(p.parse_args(["--sign"]))
    made = new_identity()                                                # the default, in the config folder
    assert signer_for_args(p.parse_args(["--sign"])).key_path == made.key_path
    other = new_identity(tmp_path / "studio", "studio")
    assert signer_for_args(p.parse_args(["--sign", str(other.key_path)])).key_path == other.key_path
    monkeypatch.setenv("NODEGRAPH_SIGN_KEY", str(other.key_path))       # the variable alone turns it on
    assert signer_for_args(p.parse_args([])).key_path == other.key_path
    with pytest.raises(CredentialsError, match=r"nope\.cert\.pem: no such certificate"):
        signer_for_args(p.parse_args(["--sign", str(other.key_path), "--sign-cert", str(tmp_path / "nope.cert.pem")]))


def test_signer_from_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("NODEGRAPH_CONFIG_DIR", str(tmp_path / "cfg"))
    assert signer_from(None, required=False) is None
    with pytest.raises(CredentialsError, match=r"default\.key\.pem does not exist.*nodegraph keys new"):
        signer_from(None)
    other = new_identity(tmp_path / "elsewhere", "mine")
    assert signer_from(other.key_path).cert_path == tmp_path / "elsewhere" / "mine.cert.pem"
    assert "PRIVATE KEY" not in repr(other) and "mine.key.pem" in repr(other)   # a log never shows the key
    monkeypatch.setenv("NODEGRAPH_SIGN_KEY", str(other.key_path))
    assert signer_from(None).key_path == other.key_path
    assert signer_from(None, required=False).key_path == other.key_path


def _cert(key, issuer_key, *, ca: bool, self_signed: bool = False, days: int = 30, eku: bool = True):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "subject")])
    issuer = subject if self_signed else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=60))
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, ca, ca, False, False), critical=True))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


@pytest.mark.parametrize("case,message", [
    ("missing key", r"nokey\.pem: no such private key file"),
    ("missing cert", r"k\.cert\.pem: no such certificate file"),
    ("fifo key", r"k\.key\.pem: the private key is not a regular file"),
    ("garbage key", r"k\.key\.pem: not a PEM private key"),
    ("garbage cert", r"k\.cert\.pem: not a PEM certificate chain"),
    ("wrong pair", r"k\.key\.pem does not belong to the certificate in .*other\.cert\.pem"),
    ("self-signed", r"k\.cert\.pem: the signing certificate is self-signed"),
    ("ca", r"k\.cert\.pem: the signing certificate is a CA certificate"),
    ("expired", r"k\.cert\.pem: the certificate expired on"),
    ("no eku", r"k\.cert\.pem: C2PA needs an extended key usage"),
])
def test_bad_keys_and_certificates_are_named(tmp_path, case, message):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    good = new_identity(tmp_path, "k")
    other = new_identity(tmp_path, "other")
    key_path, cert_path = good.key_path, good.cert_path
    k = serialization.load_pem_private_key(good.key_pem, None)
    pem = serialization.Encoding.PEM
    if case == "missing key":
        key_path = tmp_path / "nokey.pem"
    elif case == "missing cert":
        cert_path.unlink()
    elif case == "fifo key":       # never opened: reading a FIFO would wait for a writer forever
        key_path.unlink()
        os.mkfifo(key_path)
    elif case == "garbage key":
        key_path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    elif case == "garbage cert":
        cert_path.write_text("hello")
    elif case == "wrong pair":
        cert_path = other.cert_path
    elif case == "self-signed":
        cert_path.write_bytes(_cert(k, k, ca=False, self_signed=True).public_bytes(pem))
    elif case == "ca":
        cert_path.write_bytes(_cert(k, ec.generate_private_key(ec.SECP256R1()), ca=True).public_bytes(pem))
    elif case == "expired":
        cert_path.write_bytes(_cert(k, ec.generate_private_key(ec.SECP256R1()), ca=False, days=-1).public_bytes(pem))
    elif case == "no eku":
        cert_path.write_bytes(_cert(k, ec.generate_private_key(ec.SECP256R1()), ca=False, eku=False).public_bytes(pem))
    with pytest.raises(CredentialsError, match=message):
        load_identity(key_path, cert_path)


def test_a_key_that_is_not_the_certificates_fails_signing_and_leaves_the_file(keys, tmp_path):
    ident, _ = keys
    stranger = new_identity(tmp_path / "k", "stranger")
    bad = dataclasses.replace(ident, key_pem=stranger.key_pem)   # skips load_identity's own check
    out = tmp_path / "media" / "a.mp4"
    out.parent.mkdir()
    make_video(out)
    before = out.read_bytes()
    with pytest.raises(CredentialsError, match=rf"{out}: cannot sign it with .*signature does not match"):
        sign_file(out, RECORD, bad, ai_generated=True)
    assert out.read_bytes() == before
    assert listing(out.parent) == ["a.mp4"]
    assert read_manifest(out) is None


def test_refusals_name_the_file_and_write_nothing(keys, tmp_path):
    ident, _ = keys
    target = tmp_path / "real.png"
    make_png(target)
    link = tmp_path / "link.png"
    link.symlink_to(target)
    with pytest.raises(CredentialsError, match=r"link\.png: not a regular file"):
        sign_file(link, RECORD, ident, ai_generated=True)
    odd = tmp_path / "notes.xyz"
    odd.write_text("x")
    assert not supported(odd)
    with pytest.raises(CredentialsError, match=r"notes\.xyz: C2PA content credentials are not written for \.xyz"):
        sign_file(odd, RECORD, ident, ai_generated=True)
    with pytest.raises(CredentialsError, match=r"real\.png: the provenance record is not plain JSON"):
        sign_file(target, {"seed": float("nan")}, ident, ai_generated=True)
    with pytest.raises(CredentialsError, match=r"missing\.png: no such file"):
        sign_file(tmp_path / "missing.png", RECORD, ident, ai_generated=True)
    assert listing(tmp_path) == ["link.png", "notes.xyz", "real.png"]
    assert read_manifest(target) is None


def test_hostile_files_give_a_clear_error(tmp_path, keys):
    ident, _ = keys
    cut = tmp_path / "cut.otio"
    make_otio(cut)
    sidecar_path(cut).write_bytes(b"not a manifest store" * 5)
    with pytest.raises(CredentialsError, match=r"cut\.otio: its C2PA manifest cannot be read"):
        read_manifest(cut)
    signed = tmp_path / "a.png"
    make_png(signed)
    sign_file(signed, RECORD, ident, ai_generated=True)
    cut_short = tmp_path / "b.png"
    cut_short.write_bytes(signed.read_bytes()[: signed.stat().st_size // 2])
    with pytest.raises(CredentialsError, match=r"b\.png: its C2PA manifest cannot be read"):
        read_manifest(cut_short)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(CredentialsError, match=r"pipe\.png: not a regular file .*nothing was read"):
        read_manifest(fifo)
    with open(sidecar_path(cut), "wb") as f:
        f.truncate(17 * 1024 * 1024)
    with pytest.raises(CredentialsError, match=r"cut\.otio\.c2pa: 17825792 bytes is too big"):
        read_manifest(cut)


def test_supported_formats():
    for name in ("a.png", "a.PNG", "a.jpg", "a.mp4", "a.m4v", "a.mov", "a.wav", "a.flac", "a.m4a", "a.mp3"):
        assert supported(name) and embeds(name), name
    for name in ("cut.otio", "cut.edl", "cut.fcpxml", "subs.srt"):
        assert supported(name) and not embeds(name), name
    for name in ("a.xyz", "noext", "a.c2pa"):
        assert not supported(name), name


def test_signing_keeps_the_file_mode(keys, tmp_path):
    ident, _ = keys
    out = tmp_path / "a.flac"
    make_audio(out)
    os.chmod(out, 0o640)
    sign_file(out, RECORD, ident, ai_generated=False)
    assert out.stat().st_mode & 0o777 == 0o640


def test_outputs_of_a_real_run_keep_their_embedded_graph_once_signed(keys, tmp_path):
    """The writers embed the graph (PNG text chunk, MP4 metadata, FLAC comment); signing comes
    last and keeps it: the graph still reads back, and the signed picture still re-opens and runs."""
    from nodegraph import read_embedded_graph

    ident, _ = keys
    graph = {"format": "nodegraph", "version": 1, "nodes": {
        "gradient": {"type": "image.gradient", "version": "1.0.0", "params": {"width": 64, "height": 48}},
        "png": {"type": "image.save_png", "version": "1.0.0", "inputs": {"image": "gradient.image"},
                "params": {"filename": "still.png"}},
        "mp4": {"type": "video.save_mp4", "version": "1.0.0", "inputs": {"video": "gradient.image"},
                "params": {"filename": "clip.mp4"}},
        "music": {"type": "music.compose", "version": "1.0.0", "params": {"duration": 1.0, "sample_rate": 22050}},
        "flac": {"type": "audio.save", "version": "1.0.0", "inputs": {"audio": "music.audio"},
                 "params": {"filename": "sound.flac"}}}}
    g = tmp_path / "scene.json"
    g.write_text(json.dumps(graph))
    out = tmp_path / "out"
    assert main(["run", str(g), "-o", str(out), "-q", "--no-cache"]) == 0
    for name in ("still.png", "clip.mp4", "sound.flac"):
        before = read_embedded_graph(str(out / name))
        assert before is not None, name
        sign_file(out / name, {"graph": "scene.json"}, ident, ai_generated=False)
        assert read_embedded_graph(str(out / name)) == before, name
        info = read_manifest(out / name)
        assert info["failures"] == [] and info["record"] == {"graph": "scene.json"}, name
    assert sorted(os.listdir(out)) == ["clip.mp4", "sound.flac", "still.png"]
    assert main(["run", str(out / "still.png"), "-o", str(tmp_path / "again"), "-q", "--no-cache",
                 "--target", "png"]) == 0
    assert (tmp_path / "again" / "still.png").is_file()


def test_signing_from_several_threads_at_once(keys, tmp_path):
    """A run writes outputs from several worker threads; each may sign its own file meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    ident, _ = keys
    files = []
    for i, ext in enumerate([".png", ".mp4", ".wav", ".otio"] * 3):
        files.append(tmp_path / f"f{i}{ext}")
        MAKERS[ext](files[-1])
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda f: sign_file(f, {"file": f.name}, ident, ai_generated=True), files))
    with ThreadPoolExecutor(4) as ex:
        infos = list(ex.map(read_manifest, files))
    assert [i["record"] for i in infos] == [{"file": f.name} for f in files]
    assert all(i["failures"] == [] for i in infos)


def test_editor_runs_sign_when_a_key_is_named(keys, tmp_path, monkeypatch):
    """As `nodegraph run`, the editor signs its outputs only when $NODEGRAPH_SIGN_KEY names a key;
    a key that cannot be used stops the run with a message naming the file."""
    import shutil
    import time

    from nodegraph.cache import Cache
    from nodegraph.editor.session import EditorSession

    ident, _folder = keys
    shutil.copy(Path(__file__).resolve().parent.parent / "graphs" / "demo.json", tmp_path / "demo.json")

    def run_once(out: Path) -> str | None:
        s = EditorSession(cache=Cache.memory_only(), config_dir=tmp_path / "cfg", output_dir=out)
        s.open(tmp_path / "demo.json")
        why = s.run()
        t0 = time.perf_counter()
        while s.running and time.perf_counter() - t0 < 60:
            s.poll()
            time.sleep(0.01)
        s.poll()
        s.close()
        return why

    monkeypatch.delenv("NODEGRAPH_SIGN_KEY", raising=False)
    assert run_once(tmp_path / "plain") is None
    assert read_manifest(tmp_path / "plain" / "title_card.png") is None
    monkeypatch.setenv("NODEGRAPH_SIGN_KEY", str(ident.key_path))
    assert run_once(tmp_path / "signed") is None
    m = read_manifest(tmp_path / "signed" / "title_card.png")
    assert m is not None and m["failures"] == [] and m["record"]["output"]["node"] == "save_card"
    monkeypatch.setenv("NODEGRAPH_SIGN_KEY", str(tmp_path / "nope.key.pem"))
    why = run_once(tmp_path / "bad")
    assert why is not None and "nope.key.pem" in why and not (tmp_path / "bad").exists()
