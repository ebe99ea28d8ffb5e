"""A character's ``character.json``: the definition that sits beside its art (see
``assets/characters/*/``), read and checked key by key.

    {"name": "Mira", "description": "...", "mouth_anchor": [260, 343], "mouth_cell": [120, 80],
     "mouth_order": ["rest", "A", "E", "O", "U", "M", "F", "L"],
     "voice": {"variant": "f3", "pitch": 60, "rate": 165}}

Every key is optional. A fault is a ``ValueError`` naming the file and the key.
"""
from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from nodegraph import ValueError_

KEYS = ("name", "description", "mouth_anchor", "mouth_cell", "mouth_order", "voice")
VOICE_KEYS = ("engine", "variant", "pitch", "rate")
MAX_BYTES = 1 << 20


def _fail(path: Path, key: str, message: str) -> ValueError_:
    return ValueError_(f"{path}: key {key!r}: {message}")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_character_file(path: str | Path) -> dict[str, Any]:
    """The file's values under the Character node's param names (only those the file sets):
    name, description, mouth_x, mouth_y, mouth_cell (w, h), mouth_order (comma-separated),
    voice (the espeak variant), pitch, rate."""
    path = Path(path)
    if path.is_dir():
        raise ValueError_(f"{path} is a folder: name the character.json inside it")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError_(f"{path}: a character definition is a small JSON file; this one is "
                              f"{path.stat().st_size} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError_(f"character definition {path} does not exist") from None
    except UnicodeDecodeError:
        raise ValueError_(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise ValueError_(f"{path}: cannot read it ({e.strerror or type(e).__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError_(f"{path}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    if not isinstance(data, dict):
        raise ValueError_(f"{path}: a character definition is a JSON object, got {type(data).__name__}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            near = difflib.get_close_matches(str(key), KEYS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f"; known keys: {', '.join(KEYS)}"
            raise _fail(path, key, f"unknown key{hint}")
        if key in ("name", "description"):
            if not isinstance(value, str):
                raise _fail(path, key, f"must be text, got {json.dumps(value)}")
            out[key] = value
        elif key in ("mouth_anchor", "mouth_cell"):
            if not (isinstance(value, list) and len(value) == 2 and all(_number(v) and v >= 0 for v in value)):
                raise _fail(path, key, f"must be [x, y] with two numbers >= 0, got {json.dumps(value)}")
            if key == "mouth_anchor":
                out["mouth_x"], out["mouth_y"] = float(value[0]), float(value[1])
            else:
                if not all(float(v).is_integer() and v > 0 for v in value):
                    raise _fail(path, key, f"must be [width, height] in whole pixels > 0, got {json.dumps(value)}")
                out["mouth_cell"] = (int(value[0]), int(value[1]))
        elif key == "mouth_order":
            if not (isinstance(value, list) and value and all(isinstance(v, str) and v.strip() and "," not in v
                                                             for v in value)):
                raise _fail(path, key, f"must be a list of mouth-shape names, got {json.dumps(value)}")
            out["mouth_order"] = ",".join(v.strip() for v in value)
        else:  # voice
            voice = {"variant": value} if isinstance(value, str) else value
            if not isinstance(voice, dict):
                raise _fail(path, key, f"must be an object like {{\"variant\": \"f3\", \"pitch\": 60, \"rate\": 165}}, "
                                       f"got {json.dumps(value)}")
            _voice(path, voice, out)
    return out


def _voice(path: Path, voice: dict, out: dict[str, Any]) -> None:
    from nodes._espeak import PITCH_RANGE, RATE_RANGE

    for k, v in voice.items():
        where = f"voice.{k}"
        if k not in VOICE_KEYS:
            raise _fail(path, where, f"unknown key; known keys: {', '.join(VOICE_KEYS)}")
        if k == "engine":
            if v != "espeak":
                raise _fail(path, where, f"only the built-in 'espeak' voice is described here, got {json.dumps(v)}")
        elif k == "variant":
            if not isinstance(v, str):
                raise _fail(path, where, f"must be text (f1-f5, m1-m8, ...), got {json.dumps(v)}")
            out["voice"] = v
        else:
            lo, hi = PITCH_RANGE if k == "pitch" else RATE_RANGE
            if not (isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi):
                raise _fail(path, where, f"must be a whole number in {lo}..{hi}, got {json.dumps(v)}")
            out[k] = v
