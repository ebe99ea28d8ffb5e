"""File > Open bundle... in the editor, under Xvfb (bundle_scenarios.py drives the window)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

import bundle_scenarios as B
from gui_harness import run_gui, xvfb  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[1]


def _needs_pack(src: Path, dst: Path) -> None:
    """``src`` with a node of a pack nobody has installed (and its manifest entry)."""
    import hashlib

    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != "manifest.json"}
        m = json.loads(zf.read("manifest.json"))
    g = json.loads(members[m["graph"]])
    g["nodes"]["glow"] = {"type": "fancy.glow", "version": "1.0.0", "params": {}}
    members[m["graph"]] = json.dumps(g).encode()
    m["members"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()}
    m["graph_sha256"] = m["members"][m["graph"]]["sha256"]
    m["packs"].append({"name": "fancy", "distribution": "nodegraph-fancy", "version": "2.0.1", "namespaces": ["fancy"]})
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("manifest.json", json.dumps(m))
        for n, d in members.items():
            zf.writestr(n, d)


def test_open_bundle_in_the_editor(run_gui, tmp_path):
    from nodegraph.bundle import pack

    ok = tmp_path / "scene.ngpack"
    pack(ROOT / "graphs" / "talking_character.json", ok)
    missing = tmp_path / "fancy.ngpack"
    _needs_pack(ok, missing)
    bad = tmp_path / "bad.ngpack"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../escape.txt", b"boo")
    where = tmp_path / "projects"
    where.mkdir()
    (where / "scene").mkdir()
    (where / "scene" / "mine.txt").write_text("an older folder of that name: left alone")

    r = run_gui(B.open_bundles, str(tmp_path), str(ok), str(missing), str(bad), str(where), timeout=240)
    assert r["file_dialog"] and r["dir_dialog"]
    # the chosen folder held a "scene" folder already: the bundle went into scene-2
    target = where / "scene-2"
    assert r["where"] == f"scene.ngpack unpacked into {target}"
    from nodegraph import __version__

    assert r["title"] == f"Talking character  (made with nodegraph {__version__})"
    assert any(l.startswith("  ok       nodegraph") for l in r["lines"]), r["lines"]
    assert "licences: commercial use: yes (no models)" in r["lines"]
    assert r["lines"][-1].startswith("ready to run")
    assert r["thumb"] == ["mvAppItemType::mvImage"]  # the bundle's thumbnail beside its title
    assert r["doc_before"][1] == 0  # the report comes before the graph opens
    assert r["opened"] == (str(target / "talking_character.json"), 32, False)
    assert (where / "scene" / "mine.txt").is_file() and sorted(p.name for p in (where / "scene").iterdir()) == ["mine.txt"]

    assert r["missing_ok"] is True
    assert "  missing  fancy 2.0.1 (node types fancy): pip install nodegraph-fancy==2.0.1" in r["missing_lines"]
    assert r["missing_lines"][-1] == "not ready to run: 1 node pack(s) missing (see above)"
    assert r["missing_note"].startswith("Something is missing")
    assert r["still_open"] == str(target / "talking_character.json")  # Close kept the open graph

    assert r["bad_ok"] is False and r["error_shown"]
    assert "member '../escape.txt' goes up with '..' (path traversal)" in r["error_text"]
    assert not (where / "bad").exists() and not (tmp_path / "escape.txt").exists()

    from PIL import Image

    for shot in ("report.png", "opened.png", "missing.png", "refused.png"):
        img = np.asarray(Image.open(tmp_path / shot).convert("RGB")).astype(int)
        assert img.std() > 10, shot
