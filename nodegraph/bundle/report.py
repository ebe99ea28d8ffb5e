"""What this machine lacks to run a bundle, said before anything runs (``nodegraph unpack``, the
editor's Open bundle dialog).

- node packs: each pack the manifest names, installed at the same version ("ok"), at another
  version ("other version": it runs, its output may differ), or not at all ("missing", with the
  ``pip install DISTRIBUTION==VERSION`` that brings it);
- models: each model the manifest names, resolved here the way a run would (``nodegraph.models``,
  offline) and hashed (memoised): the same sha256 ("ok"), another ("differs"), not found
  ("missing"); a missing one whose recorded sha256 this machine holds elsewhere
  (``find_by_sha256``: registered models, model roots, the Hugging Face cache) is "by-hash": a
  run of the unpacked graph finds it by those bytes (``nodegraph.models.pins`` reads the
  manifest left beside the graph); a differing one names such a copy with the ``--set`` that
  uses it;
- the licence summary the bundle records.

``ready`` is false when a pack or a model is missing: ``nodegraph unpack`` then exits with status 3
(``EXIT_MISSING``); differences are warnings.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .manifest import licence_line

EXIT_MISSING = 3


@dataclass
class PackCheck:
    name: str
    distribution: str
    version: str
    status: str  # ok | other-version | missing
    here: str = ""  # the version installed here
    namespaces: list[str] = field(default_factory=list)

    @property
    def pip(self) -> str:
        return f"pip install {self.distribution}=={self.version}" if self.version else f"pip install {self.distribution}"

    def line(self) -> str:
        if self.status == "ok":
            return f"ok       {self.name} {self.version}"
        if self.status == "other-version":
            return f"version  {self.name}: {self.here} here, the bundle was made with {self.version} ({self.pip})"
        return f"missing  {self.name} {self.version} (node types {', '.join(self.namespaces) or '?'}): {self.pip}"

    def to_json(self) -> dict:
        return {"name": self.name, "distribution": self.distribution, "version": self.version, "status": self.status,
                "installed": self.here, "pip": self.pip}


@dataclass
class ModelCheck:
    entry: dict  # the manifest's record
    status: str  # ok | differs | missing | by-hash (not under its name: the same bytes elsewhere) |
    #              unverified (found here; the bundle recorded no sha256)
    here_sha256: str = ""
    error: str = ""
    found_elsewhere: str = ""  # a path of this machine holding a model of the recorded sha256

    @property
    def where(self) -> str:
        return f"{self.entry.get('node')}.{self.entry.get('param')}"

    def lines(self) -> list[str]:
        e = self.entry
        head = f"{self.where}  {e.get('ref')} ({e.get('kind')})"
        sha = e.get("sha256") or "not recorded"
        src = e.get("source") or "unknown"
        if self.status == "ok":
            out = [f"ok       {head}  sha256 {sha[:16]}"]
        elif self.status == "unverified":
            out = [f"found    {head}  (the bundle recorded no sha256 to compare)"]
        elif self.status == "differs":
            out = [f"differs  {head}: sha256 here {self.here_sha256}, the bundle was made with {sha}",
                   f"         source {src}, licence {licence_line(e)}"]
        else:
            out = [f"missing  {head}: source {src}, sha256 {sha}, size {e.get('size', '?')}, licence {licence_line(e)}"]
        if self.status == "by-hash":
            out = [f"found    {head}  by its sha256 at {self.found_elsewhere} (a run of the unpacked graph uses it)"]
        elif self.found_elsewhere:
            out.append(f"         found by hash at {self.found_elsewhere} "
                       f"(use it: --set {self.where}={self.found_elsewhere})")
        return out

    def to_json(self) -> dict:
        d = {**self.entry, "status": self.status}
        for k in ("here_sha256", "error", "found_elsewhere"):
            if getattr(self, k):
                d[k] = getattr(self, k)
        return d


@dataclass
class Report:
    manifest: dict
    packs: list[PackCheck]
    models: list[ModelCheck]
    dest: Path | None = None

    @property
    def graph(self) -> Path | None:
        return self.dest / self.manifest["graph"] if self.dest is not None else None

    @property
    def missing_packs(self) -> list[PackCheck]:
        return [p for p in self.packs if p.status == "missing"]

    @property
    def missing_models(self) -> list[ModelCheck]:
        return [m for m in self.models if m.status == "missing"]

    @property
    def ready(self) -> bool:
        return not self.missing_packs and not self.missing_models

    @property
    def licence_summary(self) -> str:
        lic = self.manifest.get("licences") if isinstance(self.manifest.get("licences"), dict) else {}
        s = lic.get("summary")
        return s if isinstance(s, str) else "unknown"

    def lines(self) -> list[str]:
        m = self.manifest
        out = []
        if self.dest is not None:
            out.append(f"graph: {self.graph}")
        out.append(f"made with nodegraph {m.get('nodegraph_version')} on {m.get('created')}: {m.get('title', '')}")
        out.append(f"{len(m.get('assets', []))} asset file(s), {len(m.get('looks', []))} Look(s)"
                   + (", thumbnail" if m.get("thumbnail") else "") + (", notes" if m.get("notes") else ""))
        out.append("node packs:")
        out += [f"  {line}" for line in pack_lines(self.packs)] or ["  (none)"]
        out.append("models:")
        out += [f"  {line}" for c in self.models for line in c.lines()] or ["  (none)"]
        out.append(f"licences: {self.licence_summary}")
        if self.ready:
            differ = [p for p in self.packs if p.status != "ok"] + [c for c in self.models if c.status == "differs"]
            note = " (the output may differ: see above)" if differ else ""
            out.append(f"ready to run{note}" + (f": nodegraph run {self.graph}" if self.graph else ""))
        else:
            what = []
            if self.missing_packs:
                what.append(f"{len(self.missing_packs)} node pack(s)")
            if self.missing_models:
                what.append(f"{len(self.missing_models)} model(s)")
            out.append(f"not ready to run: {' and '.join(what)} missing (see above)")
        return out

    def to_json(self) -> dict:
        return {"graph": str(self.graph) if self.graph else None, "ready": self.ready,
                "title": self.manifest.get("title"), "nodegraph_version": self.manifest.get("nodegraph_version"),
                "created": self.manifest.get("created"), "assets": len(self.manifest.get("assets", [])),
                "looks": [lk.get("type") for lk in self.manifest.get("looks", [])],
                "packs": [p.to_json() for p in self.packs], "models": [c.to_json() for c in self.models],
                "licences": self.manifest.get("licences", {})}


def pack_lines(packs: list[PackCheck]) -> list[str]:
    """One line per distribution and outcome (nodegraph's built-in packs are one line, not nine)."""
    groups: dict[tuple, list[PackCheck]] = {}
    for p in packs:
        groups.setdefault((p.distribution, p.version, p.status, p.here), []).append(p)
    out = []
    for (dist, version, status, here), ps in groups.items():
        ns = sorted({n for p in ps for n in (p.namespaces or [p.name])})
        merged = PackCheck(dist if len(ps) > 1 else ps[0].name, dist, version, status, here, ns)
        line = merged.line()
        out.append(line if status == "missing" else f"{line} ({', '.join(ns)})")
    return out


def check_packs(manifest: dict, registry: Any = None) -> list[PackCheck]:
    if registry is None:
        from ..registry import default_registry

        registry = default_registry()
    installed = list(getattr(getattr(registry, "base", registry), "packs", {}).values())
    out = []
    for rec in manifest.get("packs", []):
        name, dist, version = rec["name"], rec["distribution"], rec["version"]
        ns = list(rec.get("namespaces") or [])
        here = next((p for p in installed if p.name == name), None) or \
            next((p for p in installed if (p.distribution or p.name) == dist), None) or \
            next((p for p in installed if ns and set(ns) <= set(p.namespaces)), None)
        if here is None or getattr(here, "error", None):
            out.append(PackCheck(name, dist or name, version, "missing", namespaces=ns))
        elif version and here.version != version:
            out.append(PackCheck(name, dist or name, version, "other-version", here.version, ns))
        else:
            out.append(PackCheck(name, dist or name, version, "ok", here.version, ns))
    return out


def check_models(manifest: dict, base_dir: str | os.PathLike | None) -> list[ModelCheck]:
    from ..models.byhash import find_by_sha256
    from ..models.errors import ModelError
    from ..models.lookup import resolve

    base = Path(base_dir) if base_dir is not None else Path(os.devnull)
    out = []
    for rec in manifest.get("models", []):
        ref, kind, want = rec["ref"], rec["kind"], rec.get("sha256")
        check = ModelCheck(rec, "missing")
        try:
            r = resolve(ref, kind, base, offline=True)
            if r.path is None:
                raise FileNotFoundError(f"{ref} is not downloaded")
            if want:
                check.here_sha256 = r.digest()
                check.status = "ok" if check.here_sha256 == want else "differs"
            else:
                check.status = "unverified"
        except (ModelError, OSError, ValueError) as e:
            check.error = str(e)
        if check.status in ("missing", "differs") and want:
            try:
                found = find_by_sha256(want, kind, size=rec.get("size"))
            except (ValueError, ModelError, OSError):
                found = None
            if found is not None and found.path is not None:
                check.found_elsewhere = str(found.path)
                if check.status == "missing":  # a run finds it by these bytes (nodegraph.models.pins)
                    check.status = "by-hash"
        out.append(check)
    return out


def check(manifest: dict, dest: str | os.PathLike | None = None, registry: Any = None) -> Report:
    """The report for a bundle's manifest; ``dest``: where it was unpacked (models named by a
    path are looked for there), None when it was only listed."""
    d = Path(dest) if dest is not None else None
    return Report(manifest, check_packs(manifest, registry), check_models(manifest, d), d)


__all__ = ["EXIT_MISSING", "PackCheck", "ModelCheck", "Report", "check", "check_packs", "check_models"]
