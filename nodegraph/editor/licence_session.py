"""Licence badges: which nodes use a model that may not be used commercially, or whose licence is
unknown (``nodegraph.usage``, ``nodegraph.models.licences``).

``LicenceSessionMixin`` is part of ``EditorSession``: ``node_view`` gains ``licence`` (``("no" |
"unknown", one line)`` or None) that the canvas draws as a badge over the node, and the inspector's
text gains a line per model the node uses. A Look instance carries the badge of the models inside
it. What is known is computed once per document revision (resolving model references is a few
file lookups; nothing is hashed or loaded).
"""
from __future__ import annotations

from typing import Any

BADGE_TEXT = {"no": "NON-COMMERCIAL", "unknown": "LICENCE UNKNOWN"}


class LicenceSessionMixin:
    _licence_memo: tuple | None = None

    def model_licences(self) -> dict[str, list[Any]]:
        """node id (a Look instance for the models inside it) -> its ``ModelUse``s."""
        doc = self.doc  # type: ignore[attr-defined]
        key = (doc.uid, doc.revision, doc.structure_revision)
        memo = self._licence_memo
        if memo is not None and memo[0] == key:
            return memo[1]
        out: dict[str, list[Any]] = {}
        try:
            from ..usage import flat_of, model_uses

            flat = flat_of(doc, self.registry)  # type: ignore[attr-defined]
            for m in model_uses(flat, self.registry, self._run_base(), targets=flat.node_ids()):  # type: ignore[attr-defined]
                out.setdefault(m.node.split("/", 1)[0], []).append(m)
        except Exception:  # a graph that cannot be read as a whole yet (a Look missing): no badges
            out = {}
        self._licence_memo = (key, out)
        return out

    def licence_badge(self, node_id: str) -> tuple[str, str] | None:
        """("no" | "unknown", what to say) for a node whose models stop commercial use, else None."""
        uses = self.model_licences().get(node_id)
        if not uses:
            return None
        from ..usage import why_not_commercial

        for verdict in ("no", "unknown"):
            bad = [m for m in uses if m.licence.commercial == verdict]
            if bad:
                return verdict, why_not_commercial(bad[0])
        return None

    def node_view(self, node_id: str) -> Any:
        v = super().node_view(node_id)  # type: ignore[misc]
        v.licence = self.licence_badge(node_id)
        return v

    def inspector(self, node_id: str) -> Any:
        iv = super().inspector(node_id)  # type: ignore[misc]
        uses = self.model_licences().get(node_id)
        if uses:
            lines = [f"Model {m.ref}: {m.licence.line()}" for m in uses]
            iv.doc = "\n".join(lines) + ("\n\n" + iv.doc if iv.doc else "")
        return iv


__all__ = ["LicenceSessionMixin", "BADGE_TEXT"]
