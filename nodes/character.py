"""The Character node: one definition of a character that every shot uses, so it looks and
sounds the same everywhere: art (and mouth sprites) or a photo, a voice, a seed, a description."""
from __future__ import annotations

import numpy as np

from nodegraph import (Audio, Character, Choice, Context, Image, Int, Number, Path, Seed, Text, ValueError_, Variadic,
                       Voice, node)

MOUTHS = ("rest", "A", "E", "O", "U", "M", "F", "L")


def split_sheet(sheet: Image, cells: int) -> list[Image]:
    """Cut a one-row sprite sheet into ``cells`` equal images."""
    if cells < 1 or sheet.width % cells:
        raise ValueError_(f"the mouth sheet is {sheet.width} px wide, which does not split into {cells} equal cells")
    w = sheet.width // cells
    return [Image(np.ascontiguousarray(sheet.pixels[:, k * w:(k + 1) * w])) for k in range(cells)]


def find_mouth(photo: Image) -> tuple[float, float, float, float]:
    """The mouth box (x, y, w, h in pixels) of the most prominent face in a photo (OpenCV's
    bundled Haar cascades: the face, then the lower third of it)."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(photo.rgb()), cv2.COLOR_RGB2GRAY)
    grey = cv2.equalizeHist(grey)
    faces = []
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml"):
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        faces = cascade.detectMultiScale(grey, 1.1, 5, minSize=(max(24, photo.width // 12),) * 2)
        if len(faces):
            break
    if not len(faces):
        raise ValueError_("no face found in the character's photo (OpenCV face detector); use a clearer, "
                          "front-facing photo or mouth mode 'sprites'")
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    return float(x + 0.25 * w), float(y + 0.66 * h), float(0.5 * w), float(0.22 * h)


#: params that, left at their default, take their value from the character.json (``definition``)
FROM_FILE = ("name", "description", "mouth_x", "mouth_y", "mouth_order", "voice", "pitch", "rate")


@node("character.character", title="Character", category="Character", determinism="reads-files",
      defaults_from={p: "definition" for p in FROM_FILE})
def character(image: Image, references: Variadic[Image], voice_samples: Variadic[Audio],
              definition: Path(kind="file", extensions=(".json",)) = "",
              name: Text = "", description: Text(multiline=True) = "",
              mouths: Image | None = None, mouth_cells: Int(min=1, max=32) | None = None,
              mouth_order: Text = "", mouth_x: Number(min=0.0) = 0.0, mouth_y: Number(min=0.0) = 0.0,
              mode: Choice("sprites", "photo") = "sprites",
              voice: Text = "", pitch: Int(min=0, max=99) | None = None, rate: Int(min=80, max=450) | None = None,
              seed: Seed = 0, ctx: Context = None) -> Character:
    """A character: its look, its mouth, its voice. Feed it to every shot and every Speak node.

    Args:
        image: the character's art (RGBA with a transparent background) or photo.
        definition: the character.json beside the art (mouth anchor, mouth cell and order, voice,
            pitch, rate, name, description). A param set on this node wins over the file; one left
            at its default takes the file's value.
        name: the character's name (used in prompts and subtitles files); empty: the file's, or "Character".
        description: one sentence for prompts ("a young inventor with a red scarf").
        mouths: a one-row sprite sheet of mouth shapes (sprites mode).
        mouth_cells: how many shapes the sheet holds (empty: as many as mouth_order names).
        mouth_order: the shapes' names in sheet order (empty: the file's, or rest,A,E,O,U,M,F,L).
        mouth_x: where the mouth's centre goes on the image, in pixels (sprites mode; 0: the file's).
        mouth_y: likewise, vertically.
        mode: sprites (drawn character) or photo (the mouth region is found and animated).
        references: more pictures of the character (for image generation that keeps its identity).
        voice_samples: recordings of the character's voice (for voice cloning nodes).
        voice: the built-in voice's variant (f1-f5, m1-m7, ...), the same in every language (empty: the file's, or f3).
        pitch: voice pitch, 0-99 (empty: the file's, or 50).
        rate: speaking rate, words per minute (empty: the file's, or 170).
        seed: the character's seed, for anything random about it.
    """
    given = {"name": name, "description": description, "mouth_x": mouth_x, "mouth_y": mouth_y,
             "mouth_order": mouth_order, "voice": voice, "pitch": pitch, "rate": rate}
    cell = None
    if definition:
        from nodes._charfile import read_character_file

        found = read_character_file(definition)
        cell = found.pop("mouth_cell", None)
        unset = {"name": "", "description": "", "mouth_x": 0.0, "mouth_y": 0.0, "mouth_order": "", "voice": "",
                 "pitch": None, "rate": None}
        used = {k: v for k, v in found.items() if given[k] == unset[k]}
        kept = sorted(k for k in found if k not in used and given[k] != found[k])
        given.update(used)
        if ctx is not None and (used or kept):
            ctx.log(f"from {definition}: " + (", ".join(f"{k} {v!r}" for k, v in used.items() if k != "description")
                                              or "nothing") +
                    (f"; set on the node instead: {', '.join(kept)}" if kept else ""))
    name = given["name"] or "Character"
    order_text = given["mouth_order"] or ",".join(MOUTHS)
    voice, pitch, rate = given["voice"] or "f3", 50 if given["pitch"] is None else given["pitch"], \
        170 if given["rate"] is None else given["rate"]
    mouth_x, mouth_y = float(given["mouth_x"]), float(given["mouth_y"])
    sprites: tuple = ()
    if mode == "sprites":
        if mouths is None:
            raise ValueError("mode 'sprites' needs a mouth sprite sheet on the 'mouths' input")
        order = [m.strip() for m in order_text.split(",") if m.strip()]
        cells = mouth_cells if mouth_cells is not None else len(order)
        if len(order) != cells:
            raise ValueError(f"mouth_order names {len(order)} shapes but mouth_cells is {cells}")
        if "rest" not in order:
            raise ValueError("mouth_order must include 'rest' (the closed mouth)")
        if cell is not None and (cell[0] * cells != mouths.width or cell[1] != mouths.height):
            raise ValueError(f"{definition}: key 'mouth_cell': {cell[0]}x{cell[1]} does not match the mouth sheet "
                             f"({mouths.width}x{mouths.height} in {cells} cells)")
        if not (0 < mouth_x < image.width and 0 < mouth_y < image.height):
            where = f" (set mouth_x and mouth_y, or a definition file with mouth_anchor)" if not definition else ""
            raise ValueError(f"the mouth position ({mouth_x:g}, {mouth_y:g}) is outside the "
                             f"{image.width}x{image.height} image{where}")
        sprites = tuple(zip(order, split_sheet(mouths, cells)))
        anchor = (mouth_x / image.width, mouth_y / image.height)
    else:
        mx, my, mw, mh = find_mouth(image)
        anchor = ((mx + mw / 2) / image.width, (my + mh / 2) / image.height)
    return Character(name=name, description=given["description"], references=(image, *references),
                     voice=Voice("espeak", voice, pitch, rate, tuple(voice_samples)), seed=seed, mouth=mode, sprites=sprites,
                     anchor=anchor)
