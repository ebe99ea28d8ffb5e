"""Hostile Look files: a seeded mutator breaks a shipped Look (structure, values, types, inner
paths, self-reference, huge sizes) and a graph that uses it goes through `validate` and `run`.
Asserted: no traceback and no internal error, a clear one-line error naming the file or node, and
nothing written outside the output and cache folders."""
from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("NODEGRAPH_FUZZ_SEED", "20261207"))
CASES = 48
HOSTILE = ["../../../../etc/passwd", "/etc/passwd", "x" * 5000, "", None, [], {"a": 1}, 1e308, -1, True, 2**70,
           "look:nodegraph/noir@1.0.0", "look:nodegraph/noir@9.9.9", "../escape.png", "a.b", "grade.lut"]

CHILD = r'''
import contextlib, io, json, sys, traceback
from nodegraph.cli import main
cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    res = {}
    for cmd in (["validate", c["graph"]], ["run", c["graph"], "-q", "-o", c["out"], "--cache-dir", c["cache"]]):
        err, std = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            try:
                code = main(cmd)
            except SystemExit as e:
                code = e.code
            except BaseException:
                code = "raised: " + traceback.format_exc()
        res[cmd[0]] = {"code": code, "stderr": err.getvalue()}
    out.append(res)
json.dump(out, open(sys.argv[2], "w"))
'''


def _mutate(look: dict, rng: random.Random) -> tuple[dict, str]:
    data = copy.deepcopy(look)
    kind = rng.choice(["value", "value", "type", "path", "self", "drop", "port", "size", "thumb"])
    nodes = data["graph"]["nodes"]
    nid = rng.choice(sorted(nodes))
    if kind == "value":
        params = nodes[nid].setdefault("params", {})
        key = rng.choice(sorted(params) or ["amount"])
        params[key] = rng.choice(HOSTILE)
    elif kind == "type":
        nodes[nid]["type"] = rng.choice(["grade.nope", "look:nodegraph/noir@1.0.0", "look:x/y@1.0.0", "image.load"])
    elif kind == "path":
        nodes["reader"] = {"type": "grade.lut", "version": "1.0.0",
                           "params": {"path": rng.choice(["../../../../etc/passwd", "/etc/passwd", "../x.cube"])}}
        data["outputs"]["image"]["from"] = "reader.image"
        nodes["reader"]["inputs"] = {"image": f"{nid}.image"}
    elif kind == "self":
        nodes[nid] = {"type": f"look:{data['look']}@{data['look_version']}", "version": data["look_version"]}
    elif kind == "drop":
        key = rng.choice(["inputs", "outputs", "params", "graph", "look"])
        data.pop(key, None)
    elif kind == "port":
        data["inputs"]["image"]["to"] = [rng.choice(["ghost.image", f"{nid}.nope", f"{nid}", 7])]
    elif kind == "size":
        data["params"] = {f"p{i}": {"to": [f"{nid}.amount"], "default": 1e308} for i in range(3)}
    else:
        data["thumbnail"] = rng.choice(["AAAA", "not base64", "iVBORw0KGgo" * 10])
    return data, kind


def test_mutated_looks_fail_cleanly_and_write_nothing_outside(tmp_path):
    rng = random.Random(SEED)
    src = ROOT / "nodes" / "looks"
    shipped = sorted(p for p in src.glob("*.look.json") if "-video-" not in p.name)  # the gallery shows pictures
    gallery = json.loads((ROOT / "graphs" / "looks_gallery.json").read_text())
    sample = str(ROOT / "assets" / "looks" / "sample.png")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "decoy.txt").write_text("decoy")
    cases, kinds = [], []
    for i in range(CASES):
        base = json.loads(rng.choice(shipped).read_text())
        base["look"] = "fuzz/" + base["look"].split("/", 1)[1]
        look, kind = _mutate(base, rng)
        gdir = tmp_path / f"case{i:02d}"
        (gdir / "looks").mkdir(parents=True)
        (gdir / "looks" / "fuzz.look.json").write_text(json.dumps(look))
        graph = copy.deepcopy(gallery)
        graph["nodes"]["frame"]["params"]["path"] = sample
        name = base["look"].split("/", 1)[1]
        inst = name.replace("-", "_")
        graph["nodes"][inst]["type"] = f"look:fuzz/{name}@1.0.0"
        (gdir / "g.json").write_text(json.dumps(graph))
        cases.append({"graph": str(gdir / "g.json"), "out": str(gdir / "out"), "cache": str(gdir / "cache")})
        kinds.append(kind)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    env = {**os.environ, "NODEGRAPH_LOOKS_DIR": str(tmp_path / "nolooks"), "HOME": str(tmp_path / "home")}
    p = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "cases.json"), str(tmp_path / "results.json")],
                       capture_output=True, text=True, timeout=900, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    failed_clean = 0
    for i, (res, kind) in enumerate(zip(results, kinds)):
        for cmd, r in res.items():
            assert isinstance(r["code"], int) and r["code"] in (0, 1), (i, kind, cmd, r)
            assert "Traceback" not in r["stderr"] and "internal error" not in r["stderr"], (i, kind, r["stderr"])
            if r["code"] == 1:
                lines = [l for l in r["stderr"].splitlines() if l.startswith("error:")]
                assert lines, (i, kind, r["stderr"])
                assert any(w in r["stderr"] for w in ("fuzz", "look", "Look", "node '", "g.json")), (i, kind, r["stderr"])
        failed_clean += res["run"]["code"] == 1
    assert failed_clean >= CASES // 3  # most mutations are refused, with a message
    allowed = {tmp_path / "results.json"}
    for p_ in tmp_path.rglob("*"):
        if p_ in before and before[p_] == p_.stat().st_mtime_ns or p_ in allowed or p_.is_dir():
            continue
        rel = p_.relative_to(tmp_path).parts
        if rel[:3] == ("home", ".cache", "matplotlib"):
            continue  # colour-science imports matplotlib, which keeps its font list in the user's cache folder
        assert len(rel) > 1 and rel[1] in ("out", "cache"), f"written outside the output and cache: {p_}"
    assert (tmp_path / "outside" / "decoy.txt").read_text() == "decoy"
