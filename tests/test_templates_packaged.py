"""Templates after a plain (non-editable) install: build the wheel, install it into a throwaway
venv, and make a graph from a template in an empty folder.

The throwaway venv has no pip and no packages of its own but nodegraph; a ``.pth`` line puts this
environment's site-packages after its own, so the dependencies (numpy, PyAV, ...) import without
a download while ``nodegraph`` itself comes from the wheel (its own site-packages comes first, and
a plain path line runs none of this environment's ``.pth`` hooks, the editable install's
included). About 15 s on the 2-core development machine (building the wheel is most of it).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "nodegraph", "nodes", "graphs", "assets")


def _run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: building writes build/ and *.egg-info beside the sources
    src.mkdir()
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "screenshots"))
        else:
            shutil.copy2(p, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", src])
    wheel = next((tmp / "dist").glob("nodegraph-*.whl"))
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    (site / "_deps_from_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "-q", wheel])
    return {"wheel": wheel, "venv": venv, "py": py, "exe": venv / "bin" / "nodegraph", "tmp": tmp}


def test_the_wheel_carries_the_templates_and_their_assets(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    assert {"nodegraph/_data/graphs/talking_character.json", "nodegraph/_data/assets/characters/mira/body.png",
            "nodegraph/_data/assets/characters/mira/character.json", "nodegraph/_data/assets/backgrounds/park.png",
            "nodegraph/paths.py", "nodegraph/templates.py", "nodes/fonts/DejaVuSans.ttf"} <= names
    assert not any("screenshots" in n for n in names)


def test_new_from_a_template_works_from_a_plain_install_in_an_empty_folder(installed, tmp_path):
    where = _run([installed["py"], "-c", "import nodegraph, nodes; print(nodegraph.__file__); print(nodes.__file__)"],
                 cwd=tmp_path)
    assert all(line.startswith(str(installed["venv"])) for line in where.split())  # not this checkout
    listing = _run([installed["exe"], "templates"], cwd=tmp_path)
    assert "talking_character  (" in listing and "demo  (" in listing
    out = _run([installed["exe"], "new", "scene.json", "--template", "talking_character"], cwd=tmp_path)
    assert out.startswith("created scene.json from the template talking_character")
    assert _run([installed["exe"], "validate", "scene.json"], cwd=tmp_path).startswith("ok: scene.json (32 nodes")
    data = json.loads((tmp_path / "scene.json").read_text(encoding="utf-8"))
    refs = [e["params"]["path"] for e in data["nodes"].values() if "path" in e.get("params", {})]
    assert len(refs) == 4 and all(not Path(r).is_absolute() and (tmp_path / r).is_file() for r in refs)
    assert (tmp_path / "assets" / "characters" / "mira" / "character.json").is_file()
