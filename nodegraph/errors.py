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


#: exceptions whose message is meant for the user as it is (nodes raise them on purpose)
_PLAIN = (NodegraphError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def format_error(e: BaseException) -> str:
    """One line for people, the same everywhere (a node's failure, the CLI, the editor): the
    message of an error raised on purpose, else the exception's type and message. An OSError
    names its file and the system's words for the fault, never only an errno."""
    if isinstance(e, OSError) and not isinstance(e, NodegraphError) and e.filename is not None:
        what = e.strerror or type(e).__name__
        target = f"{e.filename} -> {e.filename2}" if e.filename2 is not None else str(e.filename)
        return f"{target}: {what}"
    msg = " ".join(str(e).split()) if "\n" not in str(e).strip() else str(e).strip()
    if not msg:
        return type(e).__name__
    if isinstance(e, _PLAIN):
        return msg
    return f"{type(e).__name__}: {msg}"
