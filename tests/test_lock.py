"""requirements.lock, the tested package set: usable as a pip constraints file next to the editable
install, CPU-only, and covering every dependency pyproject.toml declares (so a dependency added
there without running .ci/refresh-lock fails here, naming it). .ci/refresh-lock points
NODEGRAPH_LOCK at the lock it is testing before it replaces requirements.lock."""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = Path(os.environ.get("NODEGRAPH_LOCK") or ROOT / "requirements.lock")
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def pins() -> dict[str, Version]:
    out: dict[str, Version] = {}
    for raw in LOCK.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            m = PIN.fullmatch(line)
            assert m, f"{LOCK}: not a plain 'name==version' pin: {raw!r}"
            name = canonicalize_name(m.group(1))
            assert name not in out, f"{LOCK} pins {name} twice"
            out[name] = Version(m.group(2))
    return out


def test_lock_is_a_constraints_file_pip_accepts_next_to_an_editable_install():
    text = LOCK.read_text()
    # a hash turns on --require-hashes, which refuses the editable nodegraph; pip refuses extras,
    # URLs and options in a constraints file used this way
    assert "--hash" not in text
    assert len(pins()) > 100


def test_torch_is_the_cpu_build_and_no_cuda_package_is_locked():
    p = pins()
    assert p["torch"] == Version("2.13.0+cpu")
    cuda = sorted(n for n in p if n.startswith("nvidia-") or n in ("triton", "torchvision"))
    assert cuda == []


def requirements() -> list[tuple[str, Requirement]]:
    """pyproject.toml's requirements, base and every extra, with the extra they come from."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = [("", Requirement(r)) for r in project["dependencies"]]
    for extra, reqs in project["optional-dependencies"].items():
        out += [(extra, Requirement(r)) for r in reqs]
    return [(e, r) for e, r in out if canonicalize_name(r.name) != "nodegraph"]


def test_every_dependency_of_pyproject_is_locked_within_its_range():
    p = pins()
    wrong = []
    for extra, req in requirements():
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        if name not in p:
            wrong.append(f"{req} ({extra or 'base'}): not in {LOCK.name}")
        elif not req.specifier.contains(p[name], prereleases=True):
            wrong.append(f"{req} ({extra or 'base'}): the lock has {p[name]}")
    assert wrong == [], "run .ci/refresh-lock: " + "; ".join(wrong)


def test_the_lock_keeps_its_hold_backs():
    p = pins()
    holds = [Requirement(line.split("#", 1)[0].strip())
             for line in (ROOT / ".ci" / "lock-holdbacks.txt").read_text().splitlines()
             if line.split("#", 1)[0].strip()]
    assert holds, "no hold-back read from .ci/lock-holdbacks.txt"
    for req in holds:
        name = canonicalize_name(req.name)
        assert name in p and req.specifier.contains(p[name], prereleases=True), (str(req), p.get(name))
