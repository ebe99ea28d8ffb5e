"""Values that flow on wires, and their types.

Annotate node parameters with a type descriptor (``Text``, ``Int(min=0)``, ``Choice("a", "b")``)
or with a value class (``Image``, ``Audio``, ``Prompt`` ...) or a plain ``str``/``int``/``float``/
``bool``: each maps to exactly one registered value type.
"""
from __future__ import annotations

from typing import Any

from .base import (
    TYPES, Encoded, PortType, Preview, ValueError_, ValueType, can_connect, convert, find_type,
    get_type, register_type,
)
from .base import port_type as _port_type
from .basic import Any_ as AnyValue
from .basic import Bool, Choice, Int, Number, Path, Seed, Text
from .media import Audio, AudioT, Image, ImageT, Speech, SpeechT, Timing, Video, VideoT
from .records import (
    AudioClip, AudioClipT, Character, CharacterT, Clip, ClipT, Prompt, PromptT, Record, Timeline,
    TimelineT, Voice, VoiceT, from_tree, register_record, to_tree,
)
from .model import AdapterRef, AdapterRefT, Images, ImagesT, LoraRef, LoraRefT, Model, ModelT

_CLASSES: dict[Any, ValueType] = {
    str: Text, int: Int, float: Number, bool: Bool,
}


def port_type(annotation: Any) -> PortType | None:
    """The port type an annotation stands for, or None when it stands for none."""
    pt = _port_type(annotation)
    if pt is not None:
        return pt
    if isinstance(annotation, type):
        if annotation in _CLASSES:
            return PortType(_CLASSES[annotation])
        for t in TYPES.values():
            if t.python == (annotation,):
                return PortType(t)
    return None


__all__ = [
    "TYPES", "Encoded", "PortType", "Preview", "ValueError_", "ValueType", "can_connect", "convert",
    "find_type", "get_type", "register_type", "port_type", "AnyValue", "Bool", "Choice", "Int",
    "Number", "Path", "Seed", "Text", "Audio", "Image", "Speech", "Timing", "Video", "AudioClip",
    "Character", "Clip", "Prompt", "Record", "Timeline", "Voice", "register_record", "to_tree",
    "from_tree", "ImageT", "AudioT", "VideoT", "SpeechT", "PromptT", "CharacterT", "TimelineT",
    "ClipT", "AudioClipT", "VoiceT", "AdapterRef", "AdapterRefT", "Images", "ImagesT", "LoraRef",
    "LoraRefT", "Model", "ModelT",
]
