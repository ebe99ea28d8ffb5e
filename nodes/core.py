"""Core nodes: constants, text and numbers, and writing text files."""
from __future__ import annotations

import math

from nodegraph import Bool, Choice, Context, Int, Number, Path, Seed, Text, Variadic, node, write_bytes


@node("core.text", title="Text", category="Core")
def text(value: Text(multiline=True) = "") -> Text:
    """A piece of text typed by hand.

    Args:
        value: the text.
    """
    return value


@node("core.number", title="Number", category="Core")
def number(value: float = 0.0) -> Number:
    """A number typed by hand."""
    return value


@node("core.int", title="Integer", category="Core")
def integer(value: int = 0) -> Int:
    """A whole number typed by hand."""
    return value


@node("core.bool", title="Switch", category="Core")
def boolean(value: bool = False) -> Bool:
    """True or false."""
    return value


@node("core.seed", title="Seed", category="Core")
def seed(seed: Seed = 0) -> Seed:
    """A seed for random generators; share one Seed node to keep several nodes in step.

    Args:
        seed: the seed (the editor has a button to draw a new one).
    """
    return seed


_OPS = {
    "add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b, "power": lambda a, b: a ** b, "min": min, "max": max,
}


@node("core.math", title="Math", category="Core")
def math_op(a: float = 0.0, b: float = 0.0, op: Choice(*_OPS) = "add") -> Number:
    """Arithmetic on two numbers.

    Args:
        a: first operand.
        b: second operand.
        op: the operation.
    """
    if op == "divide" and b == 0:
        raise ValueError("division by zero: input 'b' is 0")
    result = float(_OPS[op](a, b))
    if not math.isfinite(result):
        raise ValueError(f"{op} of {a} and {b} is not a finite number")
    return result


@node("core.join_text", title="Join text", category="Text")
def join_text(parts: Variadic[Text], separator: Text = " ") -> Text:
    """Join several texts in link order.

    Args:
        parts: the texts, in order (link as many as you like).
        separator: put between consecutive parts; use \\n for one per line.
    """
    return separator.replace("\\n", "\n").join(parts)


@node("core.format_number", title="Number to text", category="Text")
def format_number(value: float = 0.0, decimals: Int(min=0, max=12) = 2, suffix: Text = "") -> Text:
    """Write a number as text with a fixed number of decimals."""
    return f"{value:.{decimals}f}{suffix}"


@node("core.case", title="Change case", category="Text")
def change_case(text: Text, case: Choice("upper", "lower", "title", "sentence") = "upper") -> Text:
    """Change the letter case of a text."""
    if case == "sentence":
        return text[:1].upper() + text[1:].lower()
    return getattr(text, case)()


@node("core.load_text", title="Load text file", category="Text", determinism="reads-files", cost="io")
def load_text(path: Path(kind="text", must_exist=True)) -> Text:
    """Read a UTF-8 text file (relative paths are relative to the graph file).

    Args:
        path: the file to read.
    """
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"text file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text (byte {e.start})") from None


@node("core.save_text", title="Save text", category="Output", output=True, cost="io")
def save_text(text: Text, filename: Text(output_file=True) = "output.txt", ctx: Context = None) -> Path:
    """Write a text to a file in the output folder.

    Args:
        text: what to write.
        filename: file name inside the output folder (folders are created; '..' is refused).
    """
    target = ctx.output_path(filename, "filename")
    write_bytes(target, text.encode("utf-8"))
    return str(target)
