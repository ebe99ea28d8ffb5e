"""nodegraph: a local-first node-graph engine for AI-assisted audiovisual production.

The names a node author needs are here::

    from nodegraph import node, Outputs, Variadic, Context, Text, Int, Number, Bool, Choice, Seed, Path
    from nodegraph import Image, Images, Audio, Video, Speech, Prompt, Character, Timeline, Model

An output node writes through ``ctx.output_path(name)`` and the atomic writer::

    from nodegraph import write_bytes, open_atomic, atomic_path
"""
from __future__ import annotations

from .context import CancelToken, Context
from .errors import (
    Cancelled, CommandError, GraphFileError, GraphInvalid, NodegraphError, NodeFailed, UnsafePath,
)
from .fsio import WriteFailed, atomic_path, open_atomic, write_bytes
from .graph import Document, Link
from .node import DeclarationError, NodeSpec, Outputs, Variadic, node
from .types import (
    AnyValue, Audio, AudioClip, Bool, Character, Choice, Clip, Image, Images, Int, Model, Number, Path,
    Prompt, Seed, Speech, Text, Timeline, Timing, Video, Voice,
)

__version__ = "0.1.0"

__all__ = [
    "CancelToken", "Context", "Cancelled", "CommandError", "GraphFileError", "GraphInvalid",
    "NodegraphError", "NodeFailed", "UnsafePath", "Document", "Link", "DeclarationError",
    "NodeSpec", "Outputs", "Variadic", "node", "AnyValue", "Audio", "AudioClip", "Bool",
    "Character", "Choice", "Clip", "Image", "Images", "Int", "Model", "Number", "Path", "Prompt", "Seed", "Speech",
    "Text", "Timeline", "Timing", "Video", "Voice", "__version__",
    "WriteFailed", "atomic_path", "open_atomic", "write_bytes",
]
