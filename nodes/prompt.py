"""The Prompt node: a template with {variables}, style tags and a negative prompt."""
from __future__ import annotations

import re
import string

from nodegraph import Character, Outputs, Prompt, Text, node


def parse_variables(text: str) -> dict[str, str]:
    """``name = value`` lines (blank lines and # comments are skipped)."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        name = name.strip()
        if not eq or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ValueError(f"variables line {n} ({line!r}) is not 'name = value'")
        out[name] = value.strip()
    return out


@node("prompt.prompt", title="Prompt", category="Prompt")
def prompt(template: Text(multiline=True) = "{character} in {place}", variables: Text(multiline=True) = "place = a sunny park",
           character: Character | None = None, style: Text = "", negative: Text(multiline=True) = "") -> Outputs(prompt=Prompt, text=Text):
    """Fill a prompt template.

    Args:
        template: the prompt, with {name} placeholders ({{ and }} for literal braces).
        variables: one 'name = value' per line.
        character: fills {character} with the character's name and description, and {name}.
        style: style tags, separated by commas (appended to the prompt).
        negative: what the image should not have.
    """
    values = parse_variables(variables)
    if character is not None:
        desc = f"{character.name}, {character.description}" if character.description else character.name
        values.setdefault("character", desc)
        values.setdefault("name", character.name)
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise ValueError(f"template is not valid: {e}") from None
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"template uses {{{missing[0]}}}, which has no value (add '{missing[0]} = ...' to variables)")
    bad = [n for n in names if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", n)]
    if bad:
        raise ValueError(f"template placeholder {{{bad[0]}}} is not a plain name")
    text = template.format(**values)
    tags = tuple(t.strip() for t in style.split(",") if t.strip())
    p = Prompt(positive=" ".join(text.split()), negative=negative.strip(), style=tags)
    return {"prompt": p, "text": p.text}
