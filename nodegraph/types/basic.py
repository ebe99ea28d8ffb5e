"""Literal value types: the ones a graph file can hold as params."""
from __future__ import annotations

import math
from typing import Any

from .base import PortType, Preview, ValueError_, ValueType, register_type

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _check_range(value: float, opts: dict) -> None:
    if not opts:
        return
    lo, hi = opts.get("min"), opts.get("max")
    if lo is not None and value < lo:
        raise ValueError_(f"{value!r} is below the minimum {lo!r}")
    if hi is not None and value > hi:
        raise ValueError_(f"{value!r} is above the maximum {hi!r}")


class TextType(ValueType):
    """Text. ``Text(output_file=True)`` declares a param that names a file the node writes in the
    output folder: validation then refuses unsafe names (absolute, ``..``, NUL, a part over 255
    bytes) and two output nodes writing the same file. ``output_file=".png"`` (or a tuple of
    extensions) also says that the node adds the first extension when the name has none of them."""

    id, title, color = "text", "Text", (230, 200, 90)
    python, literal, find_rank = (str,), True, 10
    accepts = ("prompt", "choice", "path", "speech")
    options = ("multiline", "max_length", "placeholder", "output_file")

    def __call__(self, *args: Any, **opts: Any) -> PortType:  # type: ignore[override]
        out = opts.get("output_file")
        if out is not None and out is not True:
            exts = (out,) if isinstance(out, str) else out
            if not isinstance(exts, tuple) or not exts or not all(isinstance(e, str) and e.startswith(".") for e in exts):
                raise TypeError("text(output_file=...) takes True, an extension ('.png') or a tuple of extensions")
            opts["output_file"] = tuple(e.lower() for e in exts)
        elif out is None:
            opts.pop("output_file", None)
        return super().__call__(*args, **opts)

    def check(self, value: Any, opts: dict) -> Any:
        value = super().check(value, opts)
        limit = opts.get("max_length")
        if limit is not None and len(value) > limit:
            raise ValueError_(f"text of {len(value)} characters is longer than the maximum {limit}")
        if opts.get("output_file"):
            from ..errors import UnsafePath
            from ..fsio import check_name

            try:
                check_name(value)
            except UnsafePath as e:
                raise ValueError_(str(e)) from None
        return value

    def convert(self, value: Any, source: ValueType) -> Any:
        if source.id == "prompt":
            return value.positive
        if source.id == "speech":
            return value.text
        return value

    def parse_cli(self, text: str, opts: dict) -> Any:
        return self.from_json(text, opts)

    def preview(self, value: str) -> Preview:
        first = value.strip().splitlines()[0] if value.strip() else ""
        return Preview("text", first if len(first) <= 80 else first[:77] + "...")


class BoolType(ValueType):
    id, title, color = "bool", "Bool", (200, 120, 120)
    python, literal, find_rank = (bool,), True, 1

    def parse_cli(self, text: str, opts: dict) -> Any:
        low = text.strip().lower()
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0"):
            return False
        raise ValueError_(f"{text!r} is not a boolean (use true or false)")


class IntType(ValueType):
    id, title, color = "int", "Int", (120, 180, 230)
    python, literal, find_rank = (int,), True, 2
    accepts = ("bool", "seed")
    options = ("min", "max", "step")

    def owns(self, value: Any) -> bool:
        return not isinstance(value, bool)

    def check(self, value: Any, opts: dict) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer() and math.isfinite(value):
                value = int(value)
            else:
                raise ValueError_(f"expected a whole number, got {_short(value)}")
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError_(f"{_short(value)} does not fit in 64 bits")
        _check_range(value, opts)
        return value

    def convert(self, value: Any, source: ValueType) -> Any:
        return int(value)


class NumberType(ValueType):
    id, title, color = "number", "Number", (110, 200, 200)
    python, literal, find_rank = (float,), True, 3
    accepts = ("int", "bool")
    options = ("min", "max", "step")

    def check(self, value: Any, opts: dict) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError_(f"expected a number, got {_short(value)}")
        try:
            value = float(value)
        except OverflowError:
            raise ValueError_(f"{_short(value)} is too large for a number") from None
        if not math.isfinite(value):
            raise ValueError_(f"{value!r} is not a finite number")
        _check_range(value, opts)
        return value

    def convert(self, value: Any, source: ValueType) -> Any:
        return float(value)


class SeedType(IntType):
    id, title, color = "seed", "Seed", (180, 140, 230)
    find_rank = 50
    accepts = ("int",)
    options = ()

    def check(self, value: Any, opts: dict) -> Any:
        value = super().check(value, {})
        if value < 0:
            raise ValueError_(f"a seed must be 0 or more, got {value}")
        return value


class ChoiceType(ValueType):
    id, title, color = "choice", "Choice", (230, 160, 90)
    python, literal, find_rank = (str,), True, 60
    accepts = ("text",)
    options = ("choices",)

    def __call__(self, *choices: str, **opts: Any) -> PortType:  # type: ignore[override]
        if opts:
            raise TypeError(f"choice() takes the choices as arguments, got options {sorted(opts)}")
        if not choices or not all(isinstance(c, str) for c in choices):
            raise TypeError("choice() needs at least one choice, each a string")
        if len(set(choices)) != len(choices):
            raise TypeError(f"choice() has duplicate choices: {list(choices)}")
        return PortType(self, (("choices", tuple(choices)),))

    def check(self, value: Any, opts: dict) -> Any:
        value = super().check(value, opts)
        choices = opts.get("choices", ())
        if choices and value not in choices:
            raise ValueError_(f"{value!r} is not one of {list(choices)}")
        return value

    def parse_cli(self, text: str, opts: dict) -> Any:
        return self.from_json(text, opts)


class PathType(ValueType):
    """A file path; relative paths are resolved against the graph file's folder."""

    id, title, color = "path", "Path", (150, 150, 110)
    python, literal, find_rank = (str,), True, 70
    accepts = ("text",)
    options = ("kind", "extensions", "must_exist")

    def check(self, value: Any, opts: dict) -> Any:
        value = super().check(value, opts)
        if "\0" in value:
            raise ValueError_("a path cannot contain a NUL character")
        return value

    def parse_cli(self, text: str, opts: dict) -> Any:
        return self.from_json(text, opts)


class AnyType(ValueType):
    """Accepts every value (inspection, preview and switch nodes)."""

    id, title, color = "any", "Any", (200, 200, 200)
    python = ()

    def check(self, value: Any, opts: dict) -> Any:
        from .base import find_type

        if find_type(value) is None:
            raise ValueError_(f"{type(value).__name__} is not a nodegraph value")
        return value

    def fingerprint(self, value: Any) -> bytes:
        from .base import find_type

        return find_type(value).fingerprint(value)


class BytesType(ValueType):
    """Opaque bytes (encoded media segments and other artifacts nodes cache)."""

    id, title, color = "bytes", "Bytes", (120, 120, 120)
    python, find_rank = (bytes,), 80

    def fingerprint(self, value: bytes) -> bytes:
        from .. import hashing

        h = hashing.hasher("bytes")
        h.update(value)
        return h.digest()

    def encode(self, value: bytes):
        from .base import Encoded

        return Encoded({}, [value], len(value))

    def decode(self, meta: dict, payload: memoryview) -> bytes:
        return bytes(payload)

    def preview(self, value: bytes) -> Preview:
        return Preview("text", f"{len(value)} bytes")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


Text = register_type(TextType())
Bool = register_type(BoolType())
Int = register_type(IntType())
Number = register_type(NumberType())
Seed = register_type(SeedType())
Choice = register_type(ChoiceType())
Path = register_type(PathType())
Any_ = register_type(AnyType())
Bytes = register_type(BytesType())
