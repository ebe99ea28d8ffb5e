"""A graph explained node by node: what a value looks like at a glance, the order a run computes
the nodes in, and the walkthrough page (one self-contained HTML file).

The editor's teaching mode (``nodegraph.editor.teaching``) and ``nodegraph walkthrough`` both use
this module. Nothing here runs a node: values come from a run's results.

The page holds no script and loads nothing from elsewhere (pictures are ``data:`` PNG URIs, the
style sheet is inline), so students can open it anywhere without nodegraph. Every text in it (titles,
notes, params, node ids: graphs are untrusted) is escaped.
"""
from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .errors import NodegraphError
from .graph import Document
from .node import REQUIRED
from .registry import Registry
from .types import find_type

SHORT = 24        # characters of a glance's text
PICTURE = 320     # long side of a picture in the page, in pixels
WAVE = (320, 72)  # a waveform picture in the page

NUMBER_TYPES = ("int", "number", "float", "bool", "seed")
TEXT_TYPES = ("text", "choice", "path")


# -- a value at a glance ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Glance:
    """kind: "image" | "audio" | "video" | "number" | "text" | "other"; text: at most ``SHORT``
    characters ("512x512", "2.4 s 48 kHz", "0.75", the first words of a text); detail: a longer
    one-line summary."""

    kind: str
    text: str
    detail: str


def kind_of(value: Any, type_id: str | None = None) -> str:
    from .types.media import Audio, Image, Speech, Video
    from .types.model import Images

    if isinstance(value, (Image, Images)):
        return "image"
    if isinstance(value, (Audio, Speech)):
        return "audio"
    if isinstance(value, Video):
        return "video"
    if type_id in NUMBER_TYPES or isinstance(value, (bool, int, float, np.integer, np.floating)):
        return "number"
    if type_id in TEXT_TYPES or isinstance(value, str):
        return "text"
    return "other"


def clip(text: str, n: int = SHORT) -> str:
    """``text`` on one line, at most ``n`` characters: whole words where they fit, then '...'."""
    one = " ".join(str(text).split())
    if len(one) <= n:
        return one
    cut = one[: n - 3]
    if " " in cut and one[n - 3] != " ":
        cut = cut[: cut.rindex(" ")] if cut.rindex(" ") >= n // 2 else cut
    return cut.rstrip() + "..."


def _number(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        return f"{float(v):.4g}"
    except (TypeError, ValueError):
        return str(v)


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 60 else f"{int(s // 60)}:{s % 60:04.1f}"


def glance(value: Any, type_id: str | None = None) -> Glance:
    """What ``value`` looks like in a few characters (never raises for a value of a known type)."""
    from .types.media import Audio, Image, Speech, Video
    from .types.model import Images

    kind = kind_of(value, type_id)
    vt = find_type(value)
    try:
        detail = vt.preview(value).text if vt is not None else repr(value)
    except Exception as e:  # a pack's preview failing says so instead of breaking the page
        detail = f"(no preview: {e})"
    if isinstance(value, Image):
        text = f"{value.width}x{value.height}"
    elif isinstance(value, Images):
        first = value.images[0] if value.images else None
        text = f"{len(value.images)} x {first.width}x{first.height}" if first is not None else "no images"
    elif isinstance(value, (Audio, Speech)):
        a = value.audio if isinstance(value, Speech) else value
        text = f"{_seconds(a.duration)} {a.rate / 1000:g} kHz"
        if isinstance(value, Speech) and value.text:
            text = clip(f"{_seconds(a.duration)}: {value.text}")
    elif isinstance(value, Video):
        text = f"{value.width}x{value.height} {_seconds(value.n_frames / float(value.fps))}" if value.fps else repr(value)
    elif kind == "number":
        text = _number(value)
    elif type_id == "path" and isinstance(value, (str, Path)):
        # a file the node wrote: its name only (the folder is the maker's machine's business)
        text = detail = Path(str(value)).name
    elif kind == "text":
        text = str(value).strip() or "(empty)"
        detail = str(value)
    else:
        text = detail
    return Glance(kind, clip(text), detail)


# -- pictures ----------------------------------------------------------------------------------------
def picture(value: Any, size: int = PICTURE, wave: tuple[int, int] = WAVE) -> np.ndarray | None:
    """An RGB(A) uint8 picture of ``value`` no larger than ``size`` on its long side: an image, a
    batch's strip, a video's first frame, a sound's waveform (``wave``: width, height), a
    record's own preview picture; None for numbers and text."""
    from .types.media import Audio, Image, Speech, Video, thumbnail

    if isinstance(value, Image):
        return thumbnail(value.pixels, size)
    if isinstance(value, Video):
        return thumbnail(value.frame(0), size) if value.n_frames else None
    if isinstance(value, (Audio, Speech)):
        a = value.audio if isinstance(value, Speech) else value
        w, h = wave
        if size < max(w, h):
            w, h = size, max(8, round(h * size / w))
        return waveform_picture(a.samples, w, h)
    if isinstance(value, (str, bool, int, float, np.number)):
        return None
    vt = find_type(value)
    if vt is None:
        return None
    try:
        img = vt.preview(value).image
    except Exception:
        img = None
    if img is None:
        img = _record_picture(value)
    return thumbnail(img, size) if img is not None else None


def _record_picture(value: Any) -> np.ndarray | None:
    """The first picture a record holds in its own fields: a Character's first reference image,
    a Clip's first frame (no deeper: a timeline's clips are its own nodes' business)."""
    import dataclasses

    from .types.media import Image, Video

    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return None
    for f in dataclasses.fields(value):
        v = getattr(value, f.name, None)
        if isinstance(v, (tuple, list)) and v and isinstance(v[0], Image):
            v = v[0]
        if isinstance(v, Image):
            return v.pixels
        if isinstance(v, Video) and v.n_frames:
            return v.frame(0)
    return None


def waveform_picture(samples: np.ndarray, width: int, height: int,
                     colour: tuple[int, int, int] = (90, 150, 255),
                     background: tuple[int, int, int] = (20, 22, 26)) -> np.ndarray:
    """The peaks of a sound as an RGBA uint8 picture (channels mixed; one column per pixel)."""
    from .types.media import waveform

    px = np.empty((height, width, 4), np.uint8)
    px[..., :3], px[..., 3] = background, 255
    mid = (height - 1) / 2.0
    px[int(round(mid)), :, :3] = tuple(int(c * 0.5 + b * 0.5) for c, b in zip(colour, background))
    if len(samples) == 0:
        return px
    wf = waveform(np.asarray(samples, np.float32), width)
    peak = max(float(np.abs(wf).max()), 1e-6)
    gain = 1.0 / peak if peak < 1.0 else 1.0  # a quiet sound still shows its shape
    lo = np.clip(wf[:, 0] * gain, -1, 1)
    hi = np.clip(wf[:, 1] * gain, -1, 1)
    half = max(1.0, mid)
    y0 = np.floor(mid - hi * half).astype(int)
    y1 = np.ceil(mid - lo * half).astype(int)
    rows = np.arange(height)[:, None]
    px[(rows >= y0[None, :]) & (rows <= y1[None, :]), :3] = colour
    return px


def rgba_float(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """``pixels`` (uint8 gray, RGB or RGBA) as float32 RGBA in 0..1, at most ``max_side`` px."""
    from .types.media import thumbnail

    small = thumbnail(np.asarray(pixels), max_side) if max(pixels.shape[:2]) > max_side else np.asarray(pixels)
    if small.ndim == 2:
        small = small[:, :, None]
    if small.shape[2] == 1:
        small = np.repeat(small, 3, axis=2)
    out = np.ones(small.shape[:2] + (4,), np.float32)
    out[..., : min(4, small.shape[2])] = small[..., :4].astype(np.float32) / 255.0
    return out


def png_uri(pixels: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI of a uint8 picture."""
    from PIL import Image as PILImage

    arr = np.ascontiguousarray(pixels)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    buf = io.BytesIO()
    PILImage.fromarray(arr).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# -- order ---------------------------------------------------------------------------------------------
def execution_order(evaluator: Any, doc: Document, targets: Iterable[Any] | None = None) -> list[str]:
    """The nodes a run of ``targets`` (None: every output) computes, in the order the engine
    computes them (``Evaluator.plan``: dependencies first, smallest id first among the ready)."""
    from .results import parse_targets

    return list(evaluator.plan(doc, parse_targets(doc, evaluator.registry, targets))[0])


# -- the page ----------------------------------------------------------------------------------------
Outputs = Mapping[str, Any]  # port -> value
ValueSource = Callable[[str], "Outputs | str | None"]  # node -> its outputs, or why it has none

CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f5f7;color:#1d1d22}
header,main,nav{max-width:980px;margin:0 auto;padding:0 20px}
header{padding-top:28px}
h1{font-size:30px;margin:0 0 4px}
.graph{color:#555;margin:0 0 10px}
.about{white-space:pre-wrap}
nav ol{columns:2;column-gap:32px;padding-left:28px}
nav li{break-inside:avoid}
nav a{color:#2456b3;text-decoration:none}
section.node{background:#fff;border:1px solid #ddd;border-radius:8px;margin:22px 0;padding:14px 20px}
section.node h2{font-size:21px;margin:0 0 2px}
.type{color:#666;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:14px}
.note{background:#fff8d6;border-left:4px solid #e3b400;padding:8px 12px;white-space:pre-wrap;margin:10px 0}
.doc{color:#444;white-space:pre-wrap}
table{border-collapse:collapse;margin:6px 0 10px}
td,th{border-bottom:1px solid #eee;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{color:#666;font-weight:600}
td.v{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:14px;white-space:pre-wrap;word-break:break-word}
.default{color:#999}
h3{font-size:15px;color:#555;margin:12px 0 4px;text-transform:uppercase;letter-spacing:.04em}
figure{display:inline-block;margin:4px 16px 8px 0;vertical-align:top}
figure img{display:block;max-width:100%;border:1px solid #ccc;background:#222}
figcaption{font-size:14px;color:#444}
.value{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;background:#f0f0f3;padding:6px 10px;border-radius:4px}
.missing{color:#a33}
footer{max-width:980px;margin:0 auto;padding:10px 20px 40px;color:#888;font-size:13px}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


TEXT_LIMIT = 2000  # characters of a text output shown in the page


def _output_html(port: str, value: Any, type_id: str | None) -> str:
    g = glance(value, type_id)
    label = f"{port}: {g.detail if g.kind != 'text' else g.text}"
    pic = None
    if g.kind in ("image", "video", "audio", "other"):
        try:
            pic = picture(value)
        except Exception as e:  # a video whose frames cannot be read any more, ...
            label += f" (no picture: {e})"
    if pic is not None:
        h, w = pic.shape[:2]
        return (f'<figure class="out {_e(g.kind)}"><img src="{png_uri(pic)}" width="{w}" height="{h}" '
                f'alt="{_e(port)}: {_e(g.kind)}"><figcaption>{_e(label)}</figcaption></figure>')
    if g.kind == "text" and type_id != "path":
        text = str(value)
        more = f"\n... ({len(text) - TEXT_LIMIT} more characters)" if len(text) > TEXT_LIMIT else ""
        return f'<p class="out text"><b>{_e(port)}</b></p><pre class="value">{_e(text[:TEXT_LIMIT] + more)}</pre>'
    return f'<p class="out {_e(g.kind)}"><b>{_e(port)}:</b> <span class="value">{_e(g.text if g.kind == "number" else g.detail)}</span></p>'


def section_html(doc: Document, registry: Registry, nid: str, step: int, steps: Mapping[str, int],
                 outputs: "Outputs | str | None") -> str:
    """One node's section: title, type, note, what the node does, params, inputs and its output."""
    rec = doc.node(nid)
    spec = registry.specs.get(rec["type"])
    title = rec.get("label") or (spec.title if spec else nid)
    parts = [f'<section class="node" id="step-{step}" data-node="{_e(nid)}">',
             f'<h2>{step}. {_e(title)}</h2>',
             f'<div class="type">{_e(nid)} &middot; {_e(rec["type"])}{(" &middot; " + _e(spec.category)) if spec else ""}</div>']
    note = str(rec.get("notes") or "").strip()
    if note:
        parts.append(f'<div class="note">{_e(note)}</div>')
    if spec is not None and spec.description:
        parts.append(f'<p class="doc">{_e(spec.description.strip().split(chr(10) + chr(10))[0])}</p>')
    links = doc.inputs(nid)
    # inputs: what comes in over wires
    if links:
        rows = []
        for port, ls in links.items():
            for l in ls:
                src = f'<a href="#step-{steps[l.src]}">{_e(l.src)}</a>' if l.src in steps else _e(l.src)
                rows.append(f"<tr><td>{_e(port)}</td><td>from {src}.{_e(l.src_port)}</td></tr>")
        parts.append('<h3>Inputs</h3><table class="inputs"><tr><th>input</th><th>comes from</th></tr>'
                     + "".join(rows) + "</table>")
    # params: what is set on the node (a linked param shows where its value comes from instead)
    params = rec.get("params", {})
    rows = []
    if spec is not None:
        for p in spec.inputs:
            if not p.is_param:
                continue
            if p.name in links:
                value, cls = "(from its input)", "default"
            elif p.name in params:
                value, cls = _param_text(params[p.name]), ""
            elif p.default is REQUIRED or p.default is None:
                continue
            else:
                value, cls = _param_text(p.type.vtype.to_json(p.default)) + "  (default)", "default"
            rows.append(f'<tr><td>{_e(p.name)}</td><td class="v {cls}">{_e(value)}</td></tr>')
    else:
        rows = [f'<tr><td>{_e(k)}</td><td class="v">{_e(_param_text(v))}</td></tr>' for k, v in sorted(params.items())]
    if rows:
        parts.append('<h3>Settings</h3><table class="params"><tr><th>name</th><th>value</th></tr>' + "".join(rows) + "</table>")
    # output
    parts.append("<h3>Output</h3>")
    if isinstance(outputs, Mapping) and outputs:
        types = {o.name: o.type.id for o in spec.outputs} if spec is not None else {}
        parts.extend(_output_html(port, v, types.get(port)) for port, v in outputs.items())
    else:
        why = outputs if isinstance(outputs, str) and outputs else "not computed"
        parts.append(f'<p class="missing">{_e(why)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def page_html(doc: Document, registry: Registry, order: list[str], values: ValueSource,
              title: str | None = None, name: str = "") -> str:
    """The whole walkthrough page (see the module docstring)."""
    meta_title = str(doc.meta.get("title") or "") if isinstance(doc.meta, dict) else ""
    graph_name = meta_title or name or "untitled graph"
    heading = title or f"Walkthrough: {graph_name}"
    steps = {nid: i for i, nid in enumerate(order, 1)}
    toc = []
    for i, nid in enumerate(order, 1):
        rec = doc.node(nid)
        spec = registry.specs.get(rec["type"])
        label = rec.get("label") or (spec.title if spec else nid)
        toc.append(f'<li><a href="#step-{i}">{_e(label)}</a> <span class="type">{_e(nid)} &middot; {_e(rec["type"])}</span></li>')
    about = str(doc.meta.get("description") or "") if isinstance(doc.meta, dict) else ""
    sections = []
    for i, nid in enumerate(order, 1):
        try:
            outs = values(nid)
        except NodegraphError as e:
            outs = str(e)
        sections.append(section_html(doc, registry, nid, i, steps, outs))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(heading)}</title>",
        f"<style>{CSS}</style></head><body>",
        f'<header><h1>{_e(heading)}</h1><p class="graph">Graph: <b>{_e(graph_name)}</b>'
        + (f" ({_e(name)})" if name and name != graph_name else "") + f" &middot; {len(order)} steps</p>"
        + (f'<p class="about">{_e(about)}</p>' if about else "") + "</header>",
        '<nav><h2>Contents</h2><ol class="toc">' + "".join(toc) + "</ol></nav>",
        "<main>", *sections, "</main>",
        "<footer>Made with nodegraph. Each step is one node, in the order a run computes them.</footer>",
        "</body></html>", ""])


def export_html(path: str | Path, doc: Document, registry: Registry, order: list[str], values: ValueSource,
                title: str | None = None, name: str = "") -> Path:
    """Write the walkthrough page to ``path`` (atomically) and return the path."""
    from .fsio import write_bytes

    text = page_html(doc, registry, order, values, title, name)
    return write_bytes(Path(path), text.encode("utf-8"))


def result_values(result: Any, doc: Document) -> ValueSource:
    """A ``ValueSource`` over a ``RunResult``: each node's outputs, or why it has none."""

    def values(nid: str) -> "Outputs | str | None":
        r = result.nodes.get(nid)
        if r is None:
            return None
        if not r.ok:
            return f"{r.status}" + (f": {r.error}" if r.error else "")
        return {port: result.value(nid, port) for port in (list(r.digests) or list(r.outputs))}

    return values


__all__ = ["Glance", "glance", "kind_of", "clip", "picture", "waveform_picture", "rgba_float", "png_uri",
           "execution_order", "page_html", "section_html", "export_html", "result_values", "SHORT"]
