"""Basic image nodes: solid colours, gradients, noise, text, loading and saving PNG."""
from __future__ import annotations

import json

import numpy as np

from nodes import fonts
from nodes.colours import parse_hex
from nodegraph import Choice, Context, GraphKeys, Image, Int, Number, Path, Seed, Text, atomic_path, node

Size = Int(min=1, max=16384)
Channel = Int(min=0, max=255)


def _per_pixel(nbytes):
    """A memory estimate (``@node(memory=...)``) for a node that makes a width x height picture with
    ``nbytes(params)`` bytes per pixel at its peak (measured with tracemalloc)."""
    return lambda p: (p["width"] * p["height"] * nbytes(p), ("width", "height"))


@node("image.solid", title="Solid colour", category="Image", memory=_per_pixel(lambda p: 4))
def solid(width: Size = 512, height: Size = 512, red: Channel = 40, green: Channel = 40, blue: Channel = 48) -> Image:
    """An image of one colour."""
    px = np.empty((height, width, 3), np.uint8)
    px[:] = (red, green, blue)
    return Image(px)


@node("image.gradient", title="Gradient", category="Image",
      memory=_per_pixel(lambda p: 72 if p.get("direction") == "radial" else 28))  # float32 temporaries
def gradient(width: Size = 1280, height: Size = 720,
             top: Text = "#20306a", bottom: Text = "#e07a5f",
             direction: Choice("vertical", "horizontal", "radial") = "vertical") -> Image:
    """A two-colour gradient (colours as #rrggbb).

    Args:
        top: colour at the top (left, centre).
        bottom: colour at the bottom (right, edge).
        direction: which way the colour changes.
    """
    a, b = np.array(parse_hex(top, "top"), np.float32), np.array(parse_hex(bottom, "bottom"), np.float32)
    if direction == "vertical":
        t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None] * np.ones((1, width, 1), np.float32)
    elif direction == "horizontal":
        t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None] * np.ones((height, 1, 1), np.float32)
    else:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        d = np.hypot((xx - width / 2) / (width / 2), (yy - height / 2) / (height / 2)) / np.sqrt(2)
        t = np.clip(d, 0, 1)[:, :, None]
    return Image((a * (1 - t) + b * t + 0.5).astype(np.uint8))


@node("image.noise", title="Noise", category="Image", determinism="seeded",
      memory=_per_pixel(lambda p: 27 if p.get("amount", 1.0) < 1.0 else 4))
def noise(width: Size = 256, height: Size = 256, seed: Seed = 0, amount: Number(min=0.0, max=1.0) = 1.0) -> Image:
    """Random colour noise, the same for the same seed on every machine."""
    rng = np.random.Generator(np.random.PCG64(seed))
    px = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if amount < 1.0:
        px = (px.astype(np.float32) * amount + 128 * (1 - amount)).astype(np.uint8)
    return Image(px)


@node("image.draw_text", title="Draw text", category="Image")
def draw_text(image: Image, text: Text, x: Number(min=0.0, max=1.0) = 0.5, y: Number(min=0.0, max=1.0) = 0.5,
              size: Int(min=4, max=1024) = 64, color: Text = "#ffffff",
              align: Choice("center", "left", "right") = "center", shadow: bool = True) -> Image:
    """Write text on an image with Pillow's built-in font.

    Args:
        x: horizontal anchor as a fraction of the width.
        y: vertical anchor (centre of the text block) as a fraction of the height.
        size: font size in pixels.
        color: text colour as #rrggbb.
        shadow: draw a soft dark shadow under the text for legibility.
    """
    from PIL import Image as PILImage, ImageDraw, ImageFilter

    rgb = parse_hex(color, "color")
    font = fonts.font(size)
    base = PILImage.fromarray(np.ascontiguousarray(image.rgb()))
    draw = ImageDraw.Draw(base)
    box = draw.multiline_textbbox((0, 0), text, font=font, align=align)
    w, h = box[2] - box[0], box[3] - box[1]
    px = x * image.width - {"center": w / 2, "left": 0, "right": w}[align] - box[0]
    py = y * image.height - h / 2 - box[1]
    if shadow:
        layer = PILImage.new("L", base.size, 0)
        ImageDraw.Draw(layer).multiline_text((px + size * 0.05, py + size * 0.05), text, font=font, fill=200, align=align)
        layer = layer.filter(ImageFilter.GaussianBlur(max(1, size // 16)))
        base = PILImage.composite(PILImage.new("RGB", base.size, (0, 0, 0)), base, layer)
        draw = ImageDraw.Draw(base)
    draw.multiline_text((px, py), text, font=font, fill=rgb, align=align)
    return Image(np.asarray(base))


@node("image.load", title="Load image", category="Image", determinism="reads-files", cost="io")
def load_image(path: Path(kind="image", extensions=(".png", ".jpg", ".jpeg", ".webp", ".bmp"), must_exist=True)) -> Image:
    """Read an image file (PNG, JPEG, WebP, BMP) as RGB or RGBA.

    Args:
        path: the image file; relative paths are relative to the graph file.
    """
    from PIL import Image as PILImage, UnidentifiedImageError

    try:
        with PILImage.open(path) as im:
            im.load()
            mode = "RGBA" if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info else "RGB"
            return Image(np.asarray(im.convert(mode)))
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"{path} is not a readable image: {e}") from None


@node("image.save_png", title="Save PNG", category="Output", output=True, cost="io")
def save_png(image: Image, filename: Text(output_file=".png") = "image.png", ctx: Context = None) -> Path:
    """Write an image as PNG in the output folder, with the graph that made it and its provenance
    record (``nodegraph provenance FILE`` prints it) in text chunks.

    Args:
        filename: file name inside the output folder ('.png' is added if missing).
    """
    from PIL import Image as PILImage
    from PIL.PngImagePlugin import PngInfo

    if not filename.lower().endswith(".png"):
        filename += ".png"
    target = ctx.output_path(filename, "filename")
    info = PngInfo()
    made = ctx.provenance(target)  # None with --no-embed
    if made is not None:
        info.add_text(GraphKeys.png_node, json.dumps({"node": made["node"], "type": made["type"]}))
        if made.get("graph"):
            info.add_itxt(GraphKeys.png_graph, made["graph"], zip=True)
            info.add_text(GraphKeys.png_base, made["base"])
        if made.get("record_text"):  # how it was made: graph hash, models with sha256 and licence, seeds
            info.add_itxt(GraphKeys.png_provenance, made["record_text"])
    with atomic_path(target) as tmp:
        PILImage.fromarray(np.ascontiguousarray(image.pixels if image.channels != 1 else image.pixels[:, :, 0])).save(
            tmp, format="PNG", pnginfo=info)
    return str(target)
