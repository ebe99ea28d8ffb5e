"""nodegraph: a local-first node-graph engine for AI-assisted audiovisual production.

This module is the whole public API for node packs: a pack imports from ``nodegraph`` and
nothing else of the engine (``tests/test_imports.py`` checks it). Importing it is cheap: no
torch, no dearpygui. A node in one short file::

    from nodegraph import node, Context, Image, Int, ValueError_

    @node("mypack.brighten", title="Brighten", category="Image")
    def brighten(image: Image, amount: Int(min=0, max=255) = 20, ctx: Context = None) -> Image:
        if image.channels == 1:
            raise ValueError_("a grey image: use Levels instead")
        ctx.progress(0.5, "brightening")
        return Image((image.pixels.astype("int16") + amount).clip(0, 255).astype("uint8"))

What is here:

- declaring nodes: ``node``, ``Outputs``, ``Variadic``, ``NodeSpec``, ``DeclarationError``;
- value types (annotations and values): ``Text``, ``Int``, ``Number``, ``Bool``, ``Choice``,
  ``Seed``, ``Path``, ``AnyValue``, ``Image``, ``Images``, ``Audio``, ``Video``, ``Speech``,
  ``Timing``, ``Prompt``, ``Character``, ``Voice``, ``Timeline``, ``Clip``, ``AudioClip``,
  ``Model``, ``LoraRef``, ``AdapterRef``;
- new value types: ``Record`` + ``register_record`` (a frozen dataclass carried on wires,
  optionally with its own ``RecordType`` subclass), ``ValueType`` + ``register_type``,
  ``Preview``, ``Encoded``;
- errors: ``ValueError_`` (bad input: the message names the value), ``ModelError``,
  ``ModelNotFound``, ``ModelOffline``, ``UnsupportedModel``, ``UnsafeModelFile``,
  ``NodegraphError``, ``Cancelled``, ``UnsafePath`` ...;
- the ``Context`` a node asks for (``ctx: Context = None``): progress, cancellation, log,
  scratch space, input paths, safe output paths (``ctx.output_path(name)``; ``safe_join`` for
  a file inside a folder the node was given) written through the one atomic writer
  (``write_bytes``, ``open_atomic``, ``atomic_path``; ``WriteFailed`` when it cannot), and models through ``ctx.models`` (``Models``:
  ``local``/``resolve``/``download``, ``device``, ``dtype``, ``torch_dtype``, ``digest``, and
  ``load(key, loader)``, which loads once per process); ``ResolvedModel`` is what it resolves to;
- stateless helpers: ``read_json_object``, ``read_safetensors_header``, ``sniff_architecture``
  (model files, read as untrusted input), ``canonical_bytes``, ``hasher``, ``digest_obj``,
  ``digest_array``, ``hexdigest`` (content hashing), ``cube_text``, ``write_cube`` (3D LUTs as
  ``.cube`` files), ``read_embedded_graph`` (the graph a
  nodegraph PNG/MP4/FLAC carries; ``GraphKeys``: where a writer puts it), ``read_provenance``
  (the provenance record a PNG/MP4/FLAC/WAV/OTIO carries; ``ctx.provenance(target)["record_text"]``
  is what a writer stores), ``add_wav_info`` (a RIFF INFO chunk of any length for a WAV file);
- documents, for tools and tests: ``Document``, ``Link``.
"""
from __future__ import annotations

from .context import CancelToken, Context, safe_join
from .cube import cube_text, write_cube
from .embedded import GraphKeys, add_wav_info, read_embedded_graph, read_provenance
from .errors import (
    Cancelled, CommandError, GraphFileError, GraphInvalid, NodegraphError, NodeFailed, UnsafePath,
)
from .fsio import WriteFailed, atomic_path, open_atomic, write_bytes
from .graph import Document, Link
from .hashing import canonical_bytes, digest_array, digest_obj, hasher, hexdigest
from .models.checkpoints import read_json_object, read_safetensors_header, sniff_architecture
from .models.errors import (
    DigestMismatch, ModelError, ModelNotFound, ModelOffline, SingleFileConfigMissing, UnsafeModelFile,
    UnsupportedModel,
)
from .models.facade import Models
from .models.lookup import ResolvedModel
from .node import DeclarationError, NodeSpec, Outputs, Variadic, node
from .types import (
    AdapterRef, AnyValue, Audio, AudioClip, Bool, Character, Choice, Clip, Encoded, Image, Images, Int, LoraRef,
    Model, Number, Path, Preview, Prompt, Record, Seed, Speech, Text, Timeline, Timing, ValueError_, ValueType,
    Video, Voice, register_record, register_type,
)
from .types.records import RecordType

__version__ = "0.1.0"

__all__ = [
    # declaring nodes
    "node", "Outputs", "Variadic", "NodeSpec", "DeclarationError",
    # value types
    "AnyValue", "Audio", "AudioClip", "Bool", "Character", "Choice", "Clip", "Image", "Images", "Int", "Model",
    "Number", "Path", "Prompt", "Seed", "Speech", "Text", "Timeline", "Timing", "Video", "Voice", "LoraRef",
    "AdapterRef",
    # new value types
    "Record", "RecordType", "register_record", "ValueType", "register_type", "Preview", "Encoded",
    # errors
    "ValueError_", "NodegraphError", "Cancelled", "CommandError", "GraphFileError", "GraphInvalid", "NodeFailed",
    "UnsafePath", "ModelError", "ModelNotFound", "ModelOffline", "UnsupportedModel", "UnsafeModelFile",
    "SingleFileConfigMissing", "DigestMismatch",
    # services
    "Context", "CancelToken", "safe_join", "Models", "ResolvedModel",
    "WriteFailed", "atomic_path", "open_atomic", "write_bytes",
    # stateless helpers
    "read_json_object", "read_safetensors_header", "sniff_architecture", "canonical_bytes", "hasher", "digest_obj",
    "digest_array", "hexdigest", "read_embedded_graph", "read_provenance", "GraphKeys", "add_wav_info", "cube_text",
    "write_cube",
    # documents
    "Document", "Link", "__version__",
]
