"""A node's cache key covers the code that computes it: its function and the modules of its own
pack that it calls, not comments, docstrings or formatting; ``code_version`` takes the decision
by hand. Each run is a new process (new code loaded) over the same cache, as a user editing a pack
between runs would see it. Also: a pack with one broken node still registers the others."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nodegraph.registry import Pack, Registry

RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import importlib
from nodegraph.cache import Cache
from nodegraph.commands import AddNode, Batch
from nodegraph.evaluate import Evaluator
from nodegraph.graph import Document
from nodegraph.registry import Pack, Registry

reg = Registry()
pack = reg.load_pack(Pack("cidpack", "cidpack.nodes", "cidpack", "1.0.0"), lambda: importlib.import_module("cidpack.nodes"))
assert not pack.error and not pack.broken, pack.problems()
doc = Document()
Batch([AddNode("cid.scaled", "scaled", {"x": 3.0}), AddNode("cid.pinned_code", "hand", {"x": 3.0}),
       AddNode("cid.plain", "plain", {"x": 3.0})])(doc)
ev = Evaluator(reg, output_dir=sys.argv[1] + "/out", cache=Cache(sys.argv[1] + "/cache"), graph_id="g")
res = ev.run(doc, ["scaled", "hand", "plain"])
print(json.dumps({n: [r.status, res.value(n), r.reason] for n, r in res.nodes.items()}))
"""

NODES = '''
"""A tiny pack: nodes here, logic in helper.py."""
from nodegraph import Number, node

from . import helper
from .helper import offset


@node("cid.scaled")
def scaled(x: float = 1.0) -> Number:
    """x scaled by the helper."""
    return helper.scale(x) + offset()


@node("cid.pinned_code", code_version="1")
def pinned_code(x: float = 1.0) -> Number:
    return helper.hand(x)


@node("cid.plain")
def plain(x: float = 1.0) -> Number:
    return x
'''

HELPER = '''
"""Helpers of the tiny pack."""
FACTOR = 2.0


def scale(x):
    # multiply by the factor
    return x * FACTOR


def offset():
    return 0.0


def hand(x):
    return x + 1
'''


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    pkg = tmp_path / "cidpack"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "nodes.py").write_text(NODES, encoding="utf-8")
    (pkg / "helper.py").write_text(HELPER, encoding="utf-8")
    (tmp_path / "runner.py").write_text(RUNNER, encoding="utf-8")
    return tmp_path


def run(root: Path) -> dict:
    # -B: no .pyc is written, so an edit made within the same second as the last run (same size,
    # same mtime to the second: what CPython's .pyc check compares) is never hidden by a stale one
    p = subprocess.run([sys.executable, "-B", str(root / "runner.py"), str(root)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_helper_logic_reruns_its_callers_and_comments_do_not(pack):
    helper = pack / "cidpack" / "helper.py"
    first = run(pack)
    assert {n: s for n, (s, _, _) in first.items()} == {"scaled": "computed", "hand": "computed", "plain": "computed"}
    assert first["scaled"][1] == 6.0
    assert {s for s, _, _ in run(pack).values()} == {"cached"}

    # comments, docstrings, blank lines and re-wrapping: nothing re-runs
    edit(helper, "    # multiply by the factor\n    return x * FACTOR",
         "    # the factor, applied\n\n    return (x *\n            FACTOR)")
    edit(helper, '"""Helpers of the tiny pack."""', '"""Helpers of the tiny pack, documented at length."""')
    edit(pack / "cidpack" / "nodes.py", '"""x scaled by the helper."""', '"""x, scaled (see helper.scale)."""')
    assert {s for s, _, _ in run(pack).values()} == {"cached"}

    # the helper's logic changes: the node that calls it re-runs and gives the new result
    edit(helper, "FACTOR = 2.0", "FACTOR = 5.0")
    got = run(pack)
    assert got["scaled"][:2] == ["computed", 15.0] and "node code changed" in got["scaled"][2]
    assert got["plain"][0] == "cached" and got["hand"][0] == "cached"  # they do not use it

    # a helper imported by name (from .helper import offset) counts too
    edit(helper, "def offset():\n    return 0.0", "def offset():\n    return 1.0")
    assert run(pack)["scaled"][:2] == ["computed", 16.0]


def test_code_version_takes_the_decision_by_hand(pack):
    helper, nodes = pack / "cidpack" / "helper.py", pack / "cidpack" / "nodes.py"
    assert run(pack)["hand"][:2] == ["computed", 4.0]
    edit(helper, "return x + 1", "return x + 100")
    assert run(pack)["hand"][:2] == ["cached", 4.0]  # the author said: version "1" still
    edit(nodes, 'code_version="1"', 'code_version="2"')
    assert run(pack)["hand"][:2] == ["computed", 103.0]


BROKEN = '''
from nodegraph import Number, node


@node("bk.good_one")
def good_one(x: float = 1.0) -> Number:
    return x


@node("bk.no_return")
def no_return(x: float = 1.0):
    return x


@node("bk.good_two")
def good_two(x: float = 1.0) -> Number:
    return x * 2
'''


def test_a_broken_node_is_reported_and_its_pack_still_loads(tmp_path, monkeypatch):
    (tmp_path / "brokenpack.py").write_text(textwrap.dedent(BROKEN), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry()
    import importlib

    pack = reg.load_pack(Pack("broken", "brokenpack", "brokenpack", "0.1.0"), lambda: importlib.import_module("brokenpack"))
    assert not pack.error
    assert sorted(pack.nodes) == ["bk.good_one", "bk.good_two"] and "bk.good_two" in reg
    assert list(pack.broken) == ["bk.no_return"]
    assert "bk.no_return" in pack.broken["bk.no_return"] and "return annotation is missing" in pack.broken["bk.no_return"]
    problems = reg.problems()
    assert problems == [f"pack 'brokenpack': node 'bk.no_return' skipped: {pack.broken['bk.no_return']}"]
    # a graph that uses it is told why the type is unknown
    message = reg.explain_unknown("bk.no_return", {})
    assert "bk.no_return" in message and "declaration" in message and "return annotation" in message


def test_the_normal_form_keeps_logic_and_drops_what_computes_nothing():
    """The digest of one statement: a constant, an operator, a name or a default changes it; a
    comment, a docstring, a bare string, line breaks and the place in the file do not; a set
    literal gives the same digest in every process (its order follows string hashing)."""
    import ast
    import subprocess
    import sys

    from nodegraph.codeid import _dump

    def d(src: str) -> str:
        return _dump(ast.parse(src).body[0])

    base = d("def f(x, k=2):\n    return x * k + 1\n")
    assert d('\n\n# note\ndef f(x, k=2):\n    """Doc."""\n    "a remark"\n    return (x *\n            k + 1)\n') == base
    for other in ("def f(x, k=3):\n    return x * k + 1\n", "def f(x, k=2):\n    return x * k - 1\n",
                  "def f(x, k=2):\n    return x * k + 2\n", "def f(y, k=2):\n    return y * k + 1\n"):
        assert d(other) != base, other
    code = ("import ast; from nodegraph.codeid import _dump; "
            "print(_dump(ast.parse('def g(s):\\n    return s in {\"alpha\", \"beta\", \"gamma\", \"delta\"}').body[0]))")
    seen = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": str(seed)},
                           capture_output=True, text=True, check=True).stdout for seed in (1, 2, 3)}
    assert len(seen) == 1
