"""Errors users see. Each message names the file, node, port or value at fault."""
from __future__ import annotations


class NodegraphError(Exception):
    """Base of every error nodegraph reports to a user (printed as one line by the CLI)."""


class GraphFileError(NodegraphError):
    """A graph file that cannot be read: bad JSON, wrong structure, newer format."""

    def __init__(self, path: str, message: str, where: str = ""):
        self.path, self.where, self.reason = path, where, message
        at = f" at {where}" if where else ""
        super().__init__(f"{path}{at}: {message}")


class GraphInvalid(NodegraphError):
    """A graph that does not validate; ``issues`` lists every problem found."""

    def __init__(self, issues: list, source: str = ""):
        self.issues = issues
        head = f"{source}: " if source else ""
        lines = [f"{head}{len(issues)} problem(s) in the graph:"] + [f"  - {i.message}" for i in issues]
        super().__init__("\n".join(lines) if len(issues) > 1 else f"{head}{issues[0].message}")


class CommandError(NodegraphError):
    """An edit that cannot be applied to the document (the document is left unchanged)."""


class NodeFailed(NodegraphError):
    """A node raised while running."""

    def __init__(self, node_id: str, type_id: str, message: str):
        self.node_id, self.type_id, self.reason = node_id, type_id, message
        super().__init__(f"node {node_id!r} ({type_id}) failed: {message}")


class Cancelled(NodegraphError):
    """The run was cancelled by the user."""


class UnsafePath(NodegraphError):
    """An output path that would escape the output folder."""
