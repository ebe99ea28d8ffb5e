"""Fuzz: mutated templates run through `nodegraph validate` and `nodegraph run` in a sandbox.

A seeded mutator takes the cheap templates of graphs/ (and tests/untrusted.py's graph with every
output node) and makes them hostile: output file names that are long, absolute, go up with '..',
hold NUL, clash with another output (also by case) or with a folder; links and FIFOs planted at
the temp names a writer could pick and at the final name; path params pointing outside the
graph's folder (absolute, '..', a symlink that leads out, a FIFO, /dev/zero); huge image sizes;
values of the wrong type; hostile names and paths arriving over a link instead of as params.

Every case runs in one child process (the CLI's main, in-process, per case) with a time limit, in
a sandbox: graph folders, an output folder and a cache folder per run, decoy files outside, HOME
and the config folder inside. Asserted: nothing outside the output and cache folders changes
(a snapshot of the whole sandbox before and after), no Python traceback is printed, nothing
hangs, the CLI never reports an internal error, and every node error or validation problem names
the node and the param (or input). NODEGRAPH_FUZZ_SEED and NODEGRAPH_FUZZ_CASES change the run.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("NODEGRAPH_FUZZ_SEED", "20251207"))
CASES = int(os.environ.get("NODEGRAPH_FUZZ_CASES", "120"))
TEMPLATES = ["demo.json", "voices_fr_en_es.json", "music_only.json", "writers"]

HOSTILE_NAMES = [
    "n" * 300, "sub/" + "é" * 128 + ".txt", "../escape.txt", "a/../../escape.txt", "/tmp/escape.txt",
    "C:\\escape.txt", "\\\\server\\share\\x.txt", "x\0y.txt", "", "   ", ".", "./", "..", "~/escape.txt",
    "link/escape.txt", "deep/" * 40 + "x.txt", "p" * 253,
]
KINDS = ["name", "plant_temp", "plant_final", "path", "size", "type", "link_name", "link_path", "duplicate"]
HOSTILE_VALUES = ["not a number", [], {"a": 1}, None, 1e308, -1, True, "x" * 5000, 2**70]


def _sandbox_paths(box: Path) -> dict[str, Path]:
    return {"graphs": box / "graphs", "out": box / "out", "cache": box / "cache", "outside": box / "outside",
            "home": box / "home", "config": box / "config", "tmp": box / "tmp", "reports": box / "reports"}


# -- building the cases (in the test process) ---------------------------------------------------------

def _template(name: str) -> dict:
    if name == "writers":
        from nodegraph.fileformat import dumps

        from untrusted import writers_graph

        return json.loads(dumps(writers_graph()))
    data = json.loads((ROOT / "graphs" / name).read_text(encoding="utf-8"))
    for rec in data["nodes"].values():  # shipped assets, by their absolute path (a built-in read root)
        for k, v in rec.get("params", {}).items():
            if isinstance(v, str) and v.startswith("../assets/"):
                rec["params"][k] = str(ROOT / "assets" / v[len("../assets/"):])
    return data


def _spec_params(registry, type_id: str) -> dict:
    return {p.name: p for p in registry.specs[type_id].inputs}


def _outputs(registry, data: dict) -> list[tuple[str, str, str]]:
    """(node, param, final file name) of every output-file param set as a literal."""
    from nodegraph.validate import final_output_name

    out = []
    for nid, rec in data["nodes"].items():
        for pname, port in _spec_params(registry, rec["type"]).items():
            opt = port.type.opts.get("output_file")
            if opt and registry.specs[rec["type"]].output:
                value = rec.get("params", {}).get(pname, port.default)
                if isinstance(value, str) and value:
                    out.append((nid, pname, final_output_name(value, opt)))
    return out


def _paths(registry, data: dict) -> list[tuple[str, str]]:
    return [(nid, pname) for nid, rec in data["nodes"].items()
            for pname, port in _spec_params(registry, rec["type"]).items()
            if port.type.id == "path" and not str(port.type.opts.get("kind", "")).startswith("model:")]


def _fits(port, value) -> bool:
    from nodegraph.types import ValueError_

    try:
        port.type.from_json(value)
        return True
    except ValueError_:
        return False


def _link_text(data: dict, nid: str, pname: str, value: str, rng: random.Random) -> None:
    """A core.text node holding ``value``, linked into ``nid.pname`` (so only the run can check it)."""
    src = f"fuzz_{rng.randrange(10**6)}"
    data["nodes"][src] = {"type": "core.text", "version": "1.0.0", "params": {"value": value}}
    data["nodes"][nid].setdefault("inputs", {})[pname] = f"{src}.text"
    data["nodes"][nid].get("params", {}).pop(pname, None)


def make_case(registry, rng: random.Random, box: Path, i: int) -> dict:
    p = _sandbox_paths(box)
    name = rng.choice(TEMPLATES)
    data = _template(name)
    gdir, out, decoys = p["graphs"] / f"case{i:03d}", p["out"] / f"case{i:03d}", p["outside"] / f"case{i:03d}"
    gdir.mkdir(parents=True)
    out.mkdir(parents=True)
    decoys.mkdir(parents=True)
    (decoys / "decoy.txt").write_bytes(b"a private file\n")
    from PIL import Image as PILImage

    PILImage.new("RGB", (8, 8), (200, 10, 10)).save(decoys / "secret.png")  # readable, if reads escaped
    if name == "writers":
        from untrusted import make_inputs

        make_inputs(gdir)
    done: list[str] = []
    escapes: set[str] = set()  # nodes told to read outside: they must never compute
    kinds = [KINDS[i % len(KINDS)]] + [rng.choice(KINDS) for _ in range(rng.choice([0, 0, 1, 2]))]
    for kind in kinds:  # every kind comes first in turn; half the cases have one mutation only
        outputs, paths = _outputs(registry, data), _paths(registry, data)
        if kind in ("name", "link_name", "plant_temp", "plant_final", "duplicate") and not outputs:
            continue
        if kind in ("path", "link_path") and not paths:
            continue
        if kind == "name":
            nid, pname, _ = rng.choice(outputs)
            value = rng.choice(HOSTILE_NAMES)
            if value.startswith("link/"):
                os.symlink(decoys, out / "link")
            data["nodes"][nid]["params"][pname] = value
            done.append(f"{nid}.{pname}={value[:40]!r}")
        elif kind == "link_name":
            nid, pname, _ = rng.choice(outputs)
            value = rng.choice(HOSTILE_NAMES)
            if value.startswith("link/") and not os.path.lexists(out / "link"):
                os.symlink(decoys, out / "link")
            _link_text(data, nid, pname, value, rng)
            done.append(f"link->{nid}.{pname}={value[:40]!r}")
        elif kind == "duplicate":
            (a, pa, fa), (b, pb, _) = rng.sample(outputs, 2) if len(outputs) > 1 else (outputs[0], outputs[0])
            data["nodes"][b]["params"][pb] = rng.choice([fa, fa.upper(), "./" + fa])
            done.append(f"dup {b}.{pb}<-{a}.{pa}")
        elif kind in ("plant_temp", "plant_final"):
            from untrusted import temp_names

            from nodegraph.errors import UnsafePath
            from nodegraph.fsio import check_name

            _, _, fname = rng.choice(outputs)
            try:
                fname = "/".join(check_name(fname))
            except UnsafePath:
                continue  # an unsafe name from an earlier mutation: nothing to plant next to
            folder, base = os.path.split(fname)
            spots = [os.path.join(folder, t) for t in temp_names(base)] if kind == "plant_temp" else [fname]
            how = rng.choice(["link", "fifo", "dir"] if kind == "plant_final" else ["link", "fifo"])
            for spot in spots:
                target = out / spot
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError:
                    continue
                if os.path.lexists(target) or len(os.fsencode(target.name)) > 255:
                    continue
                if how == "link":
                    os.symlink(decoys / "decoy.txt", target)
                elif how == "fifo":
                    os.mkfifo(target)
                else:
                    target.mkdir()
            done.append(f"{how} at {spots}")
        elif kind in ("path", "link_path"):
            nid, pname = rng.choice(paths)
            choice = rng.choice(["abs_secret", "up_secret", "etc", "symlink_out", "fifo", "devzero", "proc", "home"])
            if choice == "symlink_out":
                if not os.path.lexists(gdir / "innocent.png"):
                    os.symlink(decoys / "secret.png", gdir / "innocent.png")
                value = "innocent.png"
            elif choice == "fifo":
                if not os.path.lexists(gdir / "pipe.png"):
                    os.mkfifo(gdir / "pipe.png")
                value = "pipe.png"
            else:
                value = {"abs_secret": str(decoys / "secret.png"), "up_secret": f"../../outside/case{i:03d}/secret.png",
                         "etc": "/etc/passwd", "devzero": "/dev/zero", "proc": "/proc/self/environ",
                         "home": "~/secret.png"}[choice]
            if kind == "path":
                data["nodes"][nid].setdefault("params", {})[pname] = value
            else:
                _link_text(data, nid, pname, value, rng)
            escapes.add(nid)
            done.append(f"{kind} {nid}.{pname}={value!r}")
        elif kind == "size":
            sized = [n for n, rec in data["nodes"].items() if rec["type"] in ("image.solid", "image.gradient", "image.noise")]
            if not sized:
                continue
            nid = rng.choice(sized)
            for pname in ("width", "height"):
                data["nodes"][nid].setdefault("params", {})[pname] = rng.choice([16384, 16384, 10**7, 0])
            done.append(f"size {nid}")
        elif kind == "type":
            nid = rng.choice(sorted(data["nodes"]))
            params = [n for n, port in _spec_params(registry, data["nodes"][nid]["type"]).items() if port.is_param]
            if not params:
                continue
            pname = rng.choice(params)
            port = _spec_params(registry, data["nodes"][nid]["type"])[pname]
            wrong = [v for v in HOSTILE_VALUES if not _fits(port, v)]  # of the wrong type, or out of range
            if not wrong:
                continue
            value = rng.choice(wrong)
            data["nodes"][nid].setdefault("params", {})[pname] = value
            done.append(f"type {nid}.{pname}={value!r:.30}")
    (gdir / "g.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return {"case": i, "template": name, "mutations": done, "graph": str(gdir / "g.json"), "out": str(out),
            "nodes": {n: rec["type"] for n, rec in data["nodes"].items()}, "escapes": sorted(escapes),
            "report": str(p["reports"] / f"case{i:03d}.json")}


# -- the sandbox snapshot --------------------------------------------------------------------------------

def snapshot(box: Path) -> dict[str, tuple]:
    """Every entry of the sandbox except the output, cache and temp folders: kind and content."""
    p = _sandbox_paths(box)
    skip = {str(p["out"]), str(p["cache"]), str(p["tmp"]), str(p["reports"])}
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(box):
        dirnames[:] = [d for d in dirnames if str(Path(dirpath) / d) not in skip]
        for name in dirnames + filenames:
            f = Path(dirpath) / name
            st = os.lstat(f)
            if stat.S_ISLNK(st.st_mode):
                out[str(f)] = ("link", os.readlink(f))
            elif stat.S_ISREG(st.st_mode):
                out[str(f)] = ("file", st.st_size, st.st_mtime_ns, f.read_bytes())
            elif stat.S_ISDIR(st.st_mode):
                out[str(f)] = ("dir", st.st_mode)
            else:
                out[str(f)] = ("other", stat.S_IFMT(st.st_mode))
    return out


# -- the child process ------------------------------------------------------------------------------------

def drive(box: Path) -> None:
    """Run every case through the CLI (validate, then run) and write what each printed."""
    from nodegraph.cli import main

    cases = json.loads((box / "cases.json").read_text(encoding="utf-8"))
    results = []
    progress = open(box / "progress.txt", "w", encoding="utf-8")
    for case in cases:
        entry = {"case": case["case"]}
        for what, argv in (("validate", ["validate", "--memory-budget", "256M", case["graph"]]),
                           ("run", ["run", "-q", "--memory-budget", "256M", case["graph"], "-o", case["out"],
                                    "--cache-dir", str(box / "cache"), "--workers", "2", "--report", case["report"]])):
            progress.write(f"case {case['case']} {what}\n")
            progress.flush()
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    rc = main(argv)
                except SystemExit as e:
                    rc = e.code
                except BaseException as e:  # noqa: BLE001 - reported as a failure of the test
                    import traceback

                    traceback.print_exc()
                    rc = f"raised {type(e).__name__}"
            entry[what] = {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}
        results.append(entry)
    (box / "results.json").write_text(json.dumps(results), encoding="utf-8")


# -- the test ---------------------------------------------------------------------------------------------

NODE_FAILED = re.compile(r"^error: node '([^']+)' \(([a-z0-9_.]+)\) failed: (.*)$")
ISSUE = re.compile(r"^(?:error: .*?: |  - )(node '.*)$")  # a validation problem, from validate or run
NAMES_PORT = re.compile(r"\b(?:param|input)s? '([a-z_][a-z0-9_]*)'")


def _problems(case: dict, registry, stderr: str) -> list[str]:
    """Lines of ``stderr`` that do not name their node and param."""
    bad = []
    for line in stderr.splitlines():
        m = NODE_FAILED.match(line)
        if m:
            nid, _, msg = m.groups()
            ports = _spec_params(registry, case["nodes"][nid]) if nid in case["nodes"] else {}
            if nid not in case["nodes"] or not _names_a_port(msg, ports):
                bad.append(line)
            continue
        m = ISSUE.match(line)
        if m is None:
            continue
        issue = m.group(1)
        m = re.match(r"node '([^']+)'", issue)
        if not m or m.group(1) not in case["nodes"]:
            bad.append(line)
            continue
        ports = _spec_params(registry, case["nodes"][m.group(1)])
        if not _names_a_port(issue, ports):
            bad.append(line)
    return bad


def _names_a_port(msg: str, ports: dict) -> bool:
    """``param 'x'`` / ``input 'x'`` anywhere, or else the name of one of the node's params as a
    word of the message (a node's own words: ``colour colour 'red' is not #rrggbb``)."""
    if any(p in ports for p in NAMES_PORT.findall(msg)):
        return True
    words = set(re.findall(r"[a-z_][a-z0-9_]*", msg))
    return any(p in words for p in ports)


def test_mutated_templates_change_nothing_outside_output_and_cache(registry, tmp_path):
    box = tmp_path / "box"
    p = _sandbox_paths(box)
    for d in p.values():
        d.mkdir(parents=True)
    (p["home"] / "secret.png").write_bytes(b"not yours")
    rng = random.Random(SEED)
    cases = [make_case(registry, rng, box, i) for i in range(CASES)]
    (box / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    before = snapshot(box)
    env = {**os.environ, "HOME": str(p["home"]), "NODEGRAPH_CONFIG_DIR": str(p["config"]), "TMPDIR": str(p["tmp"]),
           "NODEGRAPH_CACHE_DIR": str(p["cache"]), "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    env.pop("NODEGRAPH_ALLOW_READ", None)
    env.pop("NODEGRAPH_MEMORY_BUDGET", None)
    try:
        child = subprocess.run([sys.executable, __file__, str(box)], cwd=box, env=env, capture_output=True, text=True,
                               timeout=60 + 8 * CASES)
    except subprocess.TimeoutExpired:
        last = (box / "progress.txt").read_text().splitlines()[-1:]
        raise AssertionError(f"the fuzz run hung at {last}: {cases[int(last[0].split()[1])] if last else ''}") from None
    assert child.returncode == 0, child.stderr[-3000:]
    assert "Traceback" not in child.stdout + child.stderr, child.stderr[-3000:]
    results = json.loads((box / "results.json").read_text(encoding="utf-8"))
    assert len(results) == CASES

    after = snapshot(box)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)
                     and k not in (str(box / "results.json"), str(box / "progress.txt")))
    assert changed == [], f"changed outside the output and cache folders: {changed}"

    failures, refused, ran, node_errors = [], 0, 0, 0
    for case, res in zip(cases, results):
        for what in ("validate", "run"):
            r = res[what]
            text = r["stdout"] + r["stderr"]
            where = f"case {case['case']} ({case['template']}: {case['mutations']}) {what}"
            if r["rc"] not in (0, 1):
                failures.append(f"{where}: exit {r['rc']}: {text[-500:]}")
            if "Traceback" in text or "internal error" in text:
                failures.append(f"{where}: {text[-800:]}")
            for line in _problems(case, registry, r["stderr"]):
                failures.append(f"{where}: does not name its node and param: {line[:300]}")
        refused += res["validate"]["rc"] == 1
        node_errors += sum(1 for line in res["run"]["stderr"].splitlines() if NODE_FAILED.match(line))
        ran += res["run"]["rc"] == 0
        report = Path(case["report"])
        if report.exists():  # the graph validated and ran: no escaping read computed, every file inside
            nodes = json.loads(report.read_text(encoding="utf-8"))["nodes"]
            for nid in case["escapes"]:
                if nodes[nid]["status"] in ("computed", "cached"):
                    failures.append(f"case {case['case']} ({case['mutations']}): {nid} read outside and computed")
            for nid, r in nodes.items():
                for f in r.get("files", []):
                    real = os.path.realpath(f)
                    if not real.startswith(os.path.realpath(case["out"]) + os.sep) or not Path(real).is_file():
                        failures.append(f"case {case['case']}: {nid} wrote {f} ({real})")
        out = Path(case["out"])
        for f in out.rglob("*"):  # outputs are whole regular files; no temp file or private folder is left
            if f.is_symlink() or not (f.is_file() or f.is_dir()):
                continue  # planted by the case
            if re.match(r"^\..*\.[0-9a-z_]{6,}\.tmp$", f.name):
                failures.append(f"case {case['case']}: temp left behind: {f}")
    print(f"fuzz seed {SEED}: {CASES} cases, {refused} refused by validate, {node_errors} node errors at run time, "
          f"{ran} clean runs")
    assert not failures, "\n".join(failures[:20])
    # the mutator reaches all three outcomes: refused by validate, failed nodes at run time, clean runs
    assert refused >= CASES // 4 and ran >= 1 and node_errors >= 1, (refused, ran, node_errors)
    assert any(c["escapes"] and Path(c["report"]).exists() for c in cases), "no escaping read reached a run"


if __name__ == "__main__":
    drive(Path(sys.argv[1]))
