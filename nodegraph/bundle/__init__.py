"""Bundles: one ``.ngpack`` file that carries a graph to another machine (``nodegraph pack`` /
``nodegraph unpack``, the editor's File > Open bundle...).

A bundle is a zip file (stdlib ``zipfile``): any ``unzip -l`` lists it, every member has its own
size and CRC in the central directory, and members can be read one at a time with bounded
memory. It holds:

- ``manifest.json``: format version, nodegraph version, time made, the graph's sha256, every
  other member with its sha256 and size, the node packs (distribution, version, licence), every
  model the render uses (ref, kind, sha256, size, source, licence; never a path of the maker's
  machine), the Looks, and the licence summary (``manifest``);
- the graph (``GRAPH.json``, canonical), its file paths rewritten to ``assets/<sha256>/<name>``,
  relative to the graph, so the unpacked graph runs from any folder; model files named by path
  become ``models/<name>`` (weights are never packed: they are recorded by sha256 and source);
- ``assets/<sha256>/<name>``: every file the graph and its Looks read, stored by content hash
  (one copy per content);
- ``looks/<ns>.<name>-<version>.look.json``: the Looks it uses, nested ones too (a graph's own
  ``looks/`` folder is searched first, so the unpacked graph finds them);
- ``thumbnail.png`` and ``notes.txt``.

``pack`` writes one (``pack.py``); ``unpack`` reads one as untrusted input (``safezip.py`` checks
the central directory, the manifest and every byte before anything lands in the target folder)
and ``report`` says what this machine lacks to run it.
"""
from __future__ import annotations

from .manifest import FORMAT, FORMAT_VERSION, MANIFEST, SUFFIX, BundleError
from .pack import PackResult, pack
from .report import Report, check
from .safezip import Limits
from .unpack import Unpacked, inspect, unpack

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "SUFFIX", "BundleError", "Limits", "PackResult", "Report",
           "Unpacked", "check", "inspect", "pack", "unpack"]
