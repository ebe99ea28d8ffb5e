"""Looks: reusable, versioned groups of nodes with a face (promoted params, typed ports).

- ``model``: the ``*.look.json`` file (``Look``, ``load``, ``save``);
- ``library``: where Looks are found (``LookLibrary``) and the registry that knows them
  (``with_looks``), ``install``;
- ``expand``: instances become their inner nodes for evaluation (``shot2/noir/grain``);
- ``make``: a Look from a selection, instance upgrade and unlock (command batches);
- ``render``: a Look on a picture (thumbnails, the gallery) and baking to a ``.cube`` LUT.
"""
from __future__ import annotations

from .library import LookLibrary, LookRegistry, install, user_looks_dir, with_looks
from .model import Look, LookPort, Promoted, load, loads, save, split_type, type_id

__all__ = ["Look", "LookPort", "Promoted", "LookLibrary", "LookRegistry", "install", "user_looks_dir",
           "with_looks", "load", "loads", "save", "split_type", "type_id"]
