"""The node declaration API: what a node author writes, and the checks made at registration."""
from __future__ import annotations

import pytest

from nodegraph import (
    Audio, Choice, Context, DeclarationError, Image, Int, Outputs, Path, Seed, Text, Variadic, node,
)
from nodegraph.registry import Registry


def test_function_first_declaration_gives_ports_params_and_outputs():
    @node("test.blend", title="Blend", category="Image", version="1.2.3", cost="cpu")
    def blend(a: Image, b: Image | None = None, amount: Int(min=0, max=100) = 50,
              mode: Choice("mix", "add") = "mix", ctx: Context = None) -> Image:
        """Blend two images.

        Args:
            a: the base image.
            amount: how much of b, in percent.
        """
        return a

    spec = blend.__nodegraph__
    assert spec.id == "test.blend" and spec.title == "Blend" and spec.version == "1.2.3"
    assert spec.description == "Blend two images."
    assert [p.name for p in spec.inputs] == ["a", "b", "amount", "mode"]
    a, b, amount, mode = spec.inputs
    assert a.required and not a.is_param
    assert not b.required and b.default is None
    assert amount.is_param and amount.default == 50 and amount.type.opts == {"min": 0, "max": 100}
    assert amount.doc == "how much of b, in percent."
    assert mode.type.opts["choices"] == ("mix", "add")
    assert spec.context_arg == "ctx"
    assert [(o.name, o.type.id) for o in spec.outputs] == [("image", "image")]
    # the function is still an ordinary function
    assert blend(a="x") == "x"


def test_plain_python_annotations_map_to_types():
    @node("test.plain")
    def plain(s: str = "", i: int = 1, f: float = 0.5, b: bool = True) -> Outputs(text=Text, n=float):
        return {"text": s, "n": f}

    spec = plain.__nodegraph__
    assert [p.type.id for p in spec.inputs] == ["text", "int", "number", "bool"]
    assert [(o.name, o.type.id) for o in spec.outputs] == [("text", "text"), ("n", "number")]
    assert spec.call({"s": "x", "i": 1, "f": 2.0, "b": True}, None) == {"text": "x", "n": 2.0}


def test_variadic_input():
    @node("test.mix")
    def mix(tracks: Variadic[Audio]) -> Audio:
        return tracks[0]

    port = mix.__nodegraph__.inputs[0]
    assert port.variadic and not port.required and not port.is_param


@pytest.mark.parametrize("kwargs, body, message", [
    ({"id": "NoDots"}, "def f(x: int = 1) -> int: return x", "namespace.name"),
    ({"id": "t.a", "version": "1.0"}, "def f(x: int = 1) -> int: return x", "not semantic"),
    ({"id": "t.a", "determinism": "random"}, "def f(x: int = 1) -> int: return x", "determinism"),
    ({"id": "t.a", "cost": "tpu"}, "def f(x: int = 1) -> int: return x", "cost"),
    ({"id": "t.a"}, "def f(x) -> int: return x", "parameter 'x' has no type annotation"),
    ({"id": "t.a"}, "def f(x: list = 1) -> int: return x", "is not a nodegraph value type"),
    ({"id": "t.a"}, "def f(x: int = 1): return x", "return annotation is missing"),
    ({"id": "t.a"}, "def f(x: int = 1) -> None: return None", "output=True"),
    ({"id": "t.a"}, "def f(*xs: int) -> int: return 1", "*args"),
    ({"id": "t.a"}, "def f(x: Int(min=0) = -1) -> int: return x", "below the minimum"),
    ({"id": "t.a"}, "def f(x: Image = 3) -> int: return 1", "can only default to None"),
    ({"id": "t.a"}, "def f(x: int = None) -> int: return 1", "int | None"),
    ({"id": "t.a"}, "def f(x: Variadic[Text] = ()) -> int: return 1", "cannot have a default"),
    ({"id": "t.a", "determinism": "seeded"}, "def f(x: int = 1) -> int: return x", "needs a Seed input"),
    ({"id": "t.a", "determinism": "reads-files"}, "def f(x: int = 1) -> int: return x", "needs a Path input"),
    ({"id": "t.a"}, "def f(x: Choice('a', 'b') = 'c') -> int: return 1", "not one of"),
    ({"id": "t.a"}, "def f(Bad: int = 1) -> int: return 1", "lower case"),
    ({"id": "t.a"}, "def f(x: Missing = 1) -> int: return 1", "cannot read the annotations"),
])
def test_declaration_errors_name_node_and_fault(kwargs, body, message):
    ns = {"Int": Int, "Image": Image, "Variadic": Variadic, "Text": Text, "Choice": Choice,
          "Seed": Seed, "Path": Path}
    exec(body, ns)
    with pytest.raises(DeclarationError) as e:
        node(**kwargs)(ns["f"])
    assert message in str(e.value)
    assert repr(kwargs["id"]) in str(e.value)


def test_type_options_are_checked():
    with pytest.raises(TypeError, match="unknown option"):
        Int(maximum=3)
    with pytest.raises(TypeError, match="at least one choice"):
        Choice()


def test_registry_refuses_duplicate_type_ids():
    @node("dup.one")
    def first(x: int = 1) -> int:
        return x

    @node("dup.one")
    def second(x: int = 1) -> int:
        return x

    reg = Registry()
    reg.add(first.__nodegraph__)
    with pytest.raises(DeclarationError, match="declared twice"):
        reg.add(second.__nodegraph__)


def test_output_values_are_type_checked():
    @node("test.liar")
    def liar(x: int = 1) -> Image:
        return "not an image"

    with pytest.raises(ValueError, match="output 'image': expected image, got text"):
        liar.__nodegraph__.call({"x": 1}, None)


def test_builtin_packs_load_through_entry_points(registry):
    assert {"core", "image"} <= set(registry.packs)
    assert all(not p.error for p in registry.packs.values())
    assert "core.text" in registry and "image.save_png" in registry
    assert registry.specs["core.text"].pack == "nodegraph"


def test_readme_node_example_works():
    import re

    import numpy as np

    readme = open("README.md", encoding="utf-8").read()
    code = re.search(r"```python\n(# mypack/nodes.py.*?)```", readme, re.S).group(1)
    ns: dict = {}
    exec(code, ns)
    spec = ns["posterize"].__nodegraph__
    assert spec.id == "mypack.posterize" and [p.name for p in spec.inputs] == ["image", "levels", "mode"]
    img = Image(np.arange(256, dtype=np.uint8).repeat(3).reshape(16, 16, 3))
    out = spec.call({"image": img, "levels": 4, "mode": "rgb"}, None)["image"]
    assert sorted(np.unique(out.pixels)) == [0, 64, 128, 192]
    grey = spec.call({"image": img, "levels": 2, "mode": "grey"}, None)["image"]
    assert grey.channels == 1
