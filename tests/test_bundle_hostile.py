"""Bundles are untrusted (issue 16, item 2): one test per hostile bundle.

Each bundle is built here with ``zipfile`` from a real one (a small graph packed by ``nodegraph
pack``), then altered: a name that climbs out, an absolute name, a backslash, a symbolic link
and a device file (Unix modes in the external attributes), duplicate names (exact, by case, by
Unicode form), a zip bomb (50 MB of zeros), members over the limits, a member whose bytes do not
match the manifest, members not listed or missing, a broken or future manifest, a graph that
names files outside the bundle, a broken Look file. Each refusal is checked for its message and
for nothing written: the folder the target would be in has the same tree before and after.
A bundle needing a node pack or a model this machine lacks unpacks, and says what is missing.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nodegraph.bundle import BundleError, Limits, unpack
from nodegraph.cli import main
from untrusted import tree


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[dict, dict[str, bytes]]:
    """A real bundle's manifest and members: a graph that loads a picture and saves it."""
    from PIL import Image

    from nodegraph.bundle import pack
    from nodegraph.commands import AddNode, Batch, Connect
    from nodegraph.fileformat import save
    from nodegraph.graph import Document

    folder = tmp_path_factory.mktemp("maker")
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(folder / "pic.png")
    doc = Document()
    Batch([AddNode("image.load", "pic", {"path": "pic.png"}), AddNode("image.save_png", "out", {"filename": "o.png"}),
           Connect("pic", "image", "out", "image")])(doc)
    doc.meta["description"] = "a picture, saved"
    save(doc, folder / "scene.json")
    r = pack(folder / "scene.json", folder / "scene.ngpack")
    with zipfile.ZipFile(r.path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != "manifest.json"}
        manifest = json.loads(zf.read("manifest.json"))
    return manifest, members


def info(name: str, mode: int = 0o100644, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
    zi.create_system = 3
    zi.external_attr = (mode & 0xFFFF) << 16
    zi.compress_type = compress
    return zi


def consistent(manifest: dict, members: dict[str, bytes]) -> dict:
    """``manifest`` with its member list and graph hash made to match ``members``."""
    m = json.loads(json.dumps(manifest))
    m["members"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()}
    m["graph_sha256"] = m["members"][m["graph"]]["sha256"]
    return m


def build(path: Path, manifest: dict | bytes, members: dict[str, bytes],
          raw: list[tuple[zipfile.ZipInfo, bytes]] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        text = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        zf.writestr(info("manifest.json"), text)
        for name, data in members.items():
            zf.writestr(info(name), data)
        for zi, data in raw:
            zf.writestr(zi, data)
    return path


@pytest.fixture
def place(tmp_path) -> tuple[Path, Path]:
    """(bundles folder, the folder the target goes into); the target is ``work/scene``."""
    (tmp_path / "bundles").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "other.txt").write_text("not yours")
    return tmp_path / "bundles", tmp_path / "work"


def refused(capsys, bundle: Path, work: Path, *args: str) -> str:
    """Unpack through the CLI; it must fail with one error line and write nothing in ``work``."""
    before = tree(work)
    code = main(["unpack", str(bundle), str(work / "scene"), *args])
    err = capsys.readouterr().err
    assert code == 1, err
    assert tree(work) == before, "something was written"
    assert err.startswith(f"error: {bundle}: ") and err.count("\n") == 1
    return err


def hostile(place, base, raw) -> Path:
    manifest, members = base
    return build(place[0] / "h.ngpack", consistent(manifest, members), members, raw)


@pytest.mark.parametrize("name", ["../evil.txt", "assets/../../evil.txt", "a/../../../tmp/evil"])
def test_path_traversal(capsys, place, base, name):
    err = refused(capsys, hostile(place, base, [(info(name), b"boo")]), place[1])
    assert f"member {name!r} goes up with '..' (path traversal)" in err
    assert not (place[1].parent / "evil.txt").exists()


@pytest.mark.parametrize("name", ["/etc/evil", "/tmp/evil.txt", "C:\\evil.txt", "C:/evil.txt", "\\\\server\\share\\x"])
def test_absolute_names(capsys, place, base, name):
    err = refused(capsys, hostile(place, base, [(info(name), b"boo")]), place[1])
    assert f"member {name!r} is an absolute name" in err


def test_backslash(capsys, place, base):
    err = refused(capsys, hostile(place, base, [(info("assets\\evil.png"), b"boo")]), place[1])
    assert "member 'assets\\\\evil.png' contains a backslash" in err


def test_symlink_member(capsys, place, base):
    link = info("assets/link", stat.S_IFLNK | 0o777)
    err = refused(capsys, hostile(place, base, [(link, b"/etc/passwd")]), place[1])
    assert "member 'assets/link' is a symbolic link" in err and "only regular files" in err


@pytest.mark.parametrize("mode,words", [(stat.S_IFCHR | 0o666, "a character device file"),
                                        (stat.S_IFBLK | 0o660, "a block device file"),
                                        (stat.S_IFIFO | 0o644, "a FIFO"), (stat.S_IFSOCK | 0o755, "a socket")])
def test_device_and_special_files(capsys, place, base, mode, words):
    err = refused(capsys, hostile(place, base, [(info("dev/thing", mode), b"")]), place[1])
    assert f"member 'dev/thing' is {words}" in err


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("dup", ["notes.txt", "NOTES.txt", "Scene.JSON"])
def test_duplicate_names(capsys, place, base, dup):
    err = refused(capsys, hostile(place, base, [(info(dup), b"again")]), place[1])
    assert f"member {dup!r} is a duplicate name" in err


def test_duplicate_by_unicode_form(capsys, place, base):
    manifest, members = base
    nfc, nfd = unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")
    assert nfc != nfd
    members = {**members, nfc: b"one"}
    bundle = build(place[0] / "u.ngpack", consistent(manifest, members), members, [(info(nfd), b"two")])
    err = refused(capsys, bundle, place[1])
    assert "is a duplicate name of 'café.txt'" in err and "Unicode form" in err


def test_zip_bomb(capsys, place, base):
    bomb = info("assets/bomb.bin")
    bundle = hostile(place, base, [(bomb, bytes(50_000_000))])
    assert bundle.stat().st_size < 200_000  # 50 MB of zeros, deflated
    err = refused(capsys, bundle, place[1])
    assert "member 'assets/bomb.bin' is over-compressed (50000000 bytes from" in err and "zip bomb" in err


def test_limits_member_total_count(place, base):
    manifest, members = base
    bundle = build(place[0] / "ok.ngpack", consistent(manifest, members), members)
    before = tree(place[1])
    with pytest.raises(BundleError, match=r"is \d+ bytes; the limit is 100 bytes per member"):
        unpack(bundle, place[1] / "scene", limits=Limits(max_member_bytes=100))
    with pytest.raises(BundleError, match=r"more than 1000 bytes in all \(the limit\)"):
        unpack(bundle, place[1] / "scene", limits=Limits(max_total_bytes=1000))
    with pytest.raises(BundleError, match=r"it has \d+ members; a bundle may have at most 3"):
        unpack(bundle, place[1] / "scene", limits=Limits(max_members=3))
    with pytest.raises(BundleError, match="is over-compressed .* zip bomb"):
        unpack(bundle, place[1] / "scene", limits=Limits(max_ratio=1.0001, ratio_from=100))
    # the member reader counts the bytes really produced (whatever the header says) and stops there
    from nodegraph.bundle.safezip import read_member

    with zipfile.ZipFile(bundle) as zf:
        zi = zf.getinfo(manifest["graph"])
        assert zi.compress_type == zipfile.ZIP_DEFLATED and zi.file_size > 100
        with pytest.raises(BundleError, match=f"member {manifest['graph']!r} expands past 1.0001:1 .* zip bomb"):
            read_member(zf, zi, "b", Limits(max_ratio=1.0001, ratio_from=100))
        zi.file_size = 50  # a header that lies: the reader stops at 50 bytes and the CRC gives it away
        with pytest.raises(BundleError, match="is damaged"):
            read_member(zf, zi, "b", Limits())
    assert tree(place[1]) == before
    done = unpack(bundle, place[1] / "scene")  # within the default limits
    assert done.graph.is_file()


def test_hash_mismatch(capsys, place, base):
    manifest, members = base
    good = consistent(manifest, members)
    altered = dict(members)
    thumb = bytearray(altered["thumbnail.png"])
    thumb[-20] ^= 0xFF  # same size, other bytes
    altered["thumbnail.png"] = bytes(thumb)
    err = refused(capsys, build(place[0] / "m.ngpack", good, altered), place[1])
    assert "member 'thumbnail.png' does not match the manifest" in err and "altered or damaged" in err
    # the graph itself altered (a path changed), the manifest left as it was
    g = altered[manifest["graph"]] = members[manifest["graph"]].replace(b"assets/", b"assetz/")
    assert g != members[manifest["graph"]]
    err = refused(capsys, build(place[0] / "g.ngpack", good, {**members, manifest["graph"]: g}), place[1])
    assert f"member {manifest['graph']!r} does not match the manifest" in err


def test_members_not_listed_or_missing(capsys, place, base):
    manifest, members = base
    good = consistent(manifest, members)
    err = refused(capsys, build(place[0] / "x.ngpack", good, {**members, "extra.py": b"import os"}), place[1])
    assert "member 'extra.py' is not listed in the manifest" in err
    fewer = {k: v for k, v in members.items() if k != "notes.txt"}
    err = refused(capsys, build(place[0] / "y.ngpack", good, fewer), place[1])
    assert "the manifest lists 'notes.txt' but the bundle does not hold it" in err


def test_bad_manifests(capsys, place, base):
    manifest, members = base
    good = consistent(manifest, members)
    err = refused(capsys, build(place[0] / "a.ngpack", b"{not json", members), place[1])
    assert "manifest.json is not valid" in err
    err = refused(capsys, build(place[0] / "b.ngpack", {**good, "members": list(good["members"])}, members), place[1])
    assert "manifest.json: 'members' must be an object" in err
    err = refused(capsys, build(place[0] / "c.ngpack", {**good, "format_version": 7, "nodegraph_version": "9.0"},
                                members), place[1])
    assert "bundle format version 7 (made by nodegraph 9.0) is newer than this nodegraph reads (up to 1)" in err
    err = refused(capsys, build(place[0] / "d.ngpack", {**good, "format": "zip"}, members), place[1])
    assert "this is not a nodegraph bundle" in err
    bad_sha = json.loads(json.dumps(good))
    bad_sha["members"]["notes.txt"]["sha256"] = "../../etc"
    err = refused(capsys, build(place[0] / "e.ngpack", bad_sha, members), place[1])
    assert "'members'['notes.txt']['sha256'] must be a sha256" in err
    no_manifest = place[0] / "f.ngpack"
    with zipfile.ZipFile(no_manifest, "w") as zf:
        zf.writestr(info("scene.json"), b"{}")
    assert "it holds no manifest.json" in refused(capsys, no_manifest, place[1])
    (place[0] / "g.ngpack").write_bytes(b"PK\x03\x04 this is not a zip")
    assert "not a zip file" in refused(capsys, place[0] / "g.ngpack", place[1])


@pytest.mark.parametrize("value", ["/etc/passwd", "../../secret.png", "../scene/assets/x.png", "elsewhere.png"])
def test_graph_naming_files_outside_the_bundle(capsys, place, base, value):
    manifest, members = base
    graph = json.loads(members[manifest["graph"]])
    graph["nodes"]["pic"]["params"]["path"] = value
    changed = {**members, manifest["graph"]: json.dumps(graph).encode()}
    err = refused(capsys, build(place[0] / "p.ngpack", consistent(manifest, changed), changed), place[1])
    assert f"node 'pic' param 'path' names {value!r}, which is not a file of the bundle" in err


def test_graph_and_look_files_go_through_their_readers(capsys, place, base):
    manifest, members = base
    changed = {**members, manifest["graph"]: b'{"format": "nodegraph", "version": 1, "nodes": {"a": 5}}'}
    err = refused(capsys, build(place[0] / "g.ngpack", consistent(manifest, changed), changed), place[1])
    assert f"member {manifest['graph']!r} is not a valid graph" in err
    look = {**members, "looks/evil.look-1.0.0.look.json": b'{"format": "nodegraph-look", "__reduce__": 1}'}
    err = refused(capsys, build(place[0] / "l.ngpack", consistent(manifest, look), look), place[1])
    assert "member 'looks/evil.look-1.0.0.look.json' is not a valid Look file" in err
    thumb = {**members, "thumbnail.png": b"GIF89a not a png"}
    err = refused(capsys, build(place[0] / "t.ngpack", consistent(manifest, thumb), thumb), place[1])
    assert "member 'thumbnail.png' is not a PNG picture" in err


def _set_flag(path: Path, name: str, bit: int) -> None:
    """Set a general-purpose flag bit of ``name``'s central directory entry (zipfile will not write one)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        n = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + n] == name.encode():
            data[at + 8] |= bit
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def test_encrypted_and_odd_compression(capsys, place, base):
    bundle = hostile(place, base, [(info("assets/secret.bin", compress=zipfile.ZIP_STORED), b"xx")])
    _set_flag(bundle, "assets/secret.bin", 0x1)
    err = refused(capsys, bundle, place[1])
    assert "member 'assets/secret.bin' is encrypted" in err
    err = refused(capsys, hostile(place, base, [(info("assets/b.bin", compress=zipfile.ZIP_BZIP2), b"xx")]), place[1])
    assert "uses compression method 12" in err


def test_force_never_writes_through_a_link(capsys, place, base, tmp_path):
    manifest, members = base
    bundle = build(place[0] / "ok.ngpack", consistent(manifest, members), members)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = place[1] / "scene"
    target.mkdir()
    (target / "assets").symlink_to(outside, target_is_directory=True)
    before, before_out = tree(place[1]), tree(outside)
    code = main(["unpack", str(bundle), str(target), "--force"])
    err = capsys.readouterr().err
    assert code == 1 and f"{target / 'assets'} is a symbolic link; nothing is written through it" in err
    assert tree(place[1]) == before and tree(outside) == before_out == {}
    # the target itself a link: refused
    os.unlink(target / "assets")
    target.rmdir()
    target.symlink_to(outside, target_is_directory=True)
    code = main(["unpack", str(bundle), str(target)])
    assert code == 1 and "is a symbolic link; give the folder itself" in capsys.readouterr().err
    assert tree(outside) == {}


def _unpacked_ok(capsys, bundle: Path, work: Path, code: int) -> str:
    before = tree(work)
    assert main(["unpack", str(bundle), str(work / "scene")]) == code
    out = capsys.readouterr().out
    added = set(tree(work)) - set(before)
    assert added and all(p == "scene" or p.startswith("scene/") for p in added)  # only inside the target
    assert {k: v for k, v in tree(work).items() if k in before} == before
    return out


def test_missing_pack(capsys, place, base):
    manifest, members = base
    graph = json.loads(members[manifest["graph"]])
    graph["nodes"]["fx"] = {"type": "fancy.glow", "version": "1.0.0", "params": {"amount": 2}}
    graph.setdefault("packs", {})["fancy"] = "nodegraph-fancy"
    changed = {**members, manifest["graph"]: json.dumps(graph).encode()}
    m = consistent(manifest, changed)
    m["packs"].append({"name": "fancy", "distribution": "nodegraph-fancy", "version": "1.2.0",
                       "namespaces": ["fancy"], "licence": "MIT"})
    out = _unpacked_ok(capsys, build(place[0] / "p.ngpack", m, changed), place[1], 3)
    assert "missing  fancy 1.2.0 (node types fancy): pip install nodegraph-fancy==1.2.0" in out
    assert "not ready to run: 1 node pack(s) missing" in out
    # another version of an installed pack: a warning, still ready
    m2 = consistent(manifest, members)
    m2["packs"] = [{**p, "version": "0.0.1"} for p in m2["packs"]]
    out = _unpacked_ok(capsys, build(place[0] / "v.ngpack", m2, members), _fresh(place), 0)
    assert "the bundle was made with 0.0.1 (pip install nodegraph==0.0.1)" in out
    assert "ready to run (the output may differ: see above)" in out


def _fresh(place) -> Path:
    work = place[1].parent / "work2"
    work.mkdir()
    return work


def test_missing_model(capsys, place, base, monkeypatch):
    manifest, members = base
    monkeypatch.delenv("NODEGRAPH_MODELS", raising=False)
    m = consistent(manifest, members)
    sha = hashlib.sha256(b"the weights").hexdigest()
    m["models"] = [{"node": "words", "type": "speech.transcribe", "param": "model", "kind": "audio",
                    "ref": "studio/whisper-custom", "sha256": sha, "size": 11, "source": "studio/whisper-custom",
                    "licence": {"id": "unknown", "name": "unknown", "commercial": "unknown"}}]
    out = _unpacked_ok(capsys, build(place[0] / "m.ngpack", m, members), place[1], 3)
    assert (f"missing  words.model  studio/whisper-custom (audio): source studio/whisper-custom, sha256 {sha}, "
            "size 11, licence unknown (commercial use: unknown)") in out
    assert "not ready to run: 1 model(s) missing" in out


def test_refused_into_new_nested_folders_leaves_none_behind(capsys, place, base):
    """The target's missing parent folders are made for the unpack, and removed again on a refusal."""
    bundle = hostile(place, base, [(info("x/../../escape"), b"boo")])
    before = tree(place[1])
    assert main(["unpack", str(bundle), str(place[1] / "a" / "b" / "scene")]) == 1
    assert "path traversal" in capsys.readouterr().err
    assert tree(place[1]) == before
    manifest, members = base
    ok = build(place[0] / "ok.ngpack", consistent(manifest, members), members)
    assert main(["unpack", str(ok), str(place[1] / "a" / "b" / "scene")]) == 0
    capsys.readouterr()
    assert (place[1] / "a" / "b" / "scene" / manifest["graph"]).is_file()
