"""Grading nodes: 3D LUTs (.cube), curves, levels, lift/gamma/gain, hue/saturation/vibrance, white
balance, film grain, vignette, blur, sharpen, glow and a chroma key.

Each operation is two node types with the same params: ``grade.NAME`` takes and gives an Image,
``grade.NAME_video`` a Video. A node's outputs have one declared type, and a grade of a picture
should stay a picture (to save as PNG, to feed an image input) while a grade of a video must stay
a lazy video; an image wired into a ``_video`` node is a one-frame video. The video nodes grade a
frame only when an encoder or preview asks for it, know each frame's key from their params and
the source frame's key without rendering (so unchanged segments are not encoded again), and keep
graded frames in a process-wide memory (``FRAMES``), so asking again, or a second run, reuses them.

Which operations work in linear light and which on display-encoded (sRGB) values, and why, is
in nodes/_colour.py (and the README's node reference). The per-pixel colour nodes are declared
``pointwise=True``; ``pixel_op`` gives any of them as one function for baking into a 3D LUT.
"""
from __future__ import annotations

import blake3
import numpy as np

from nodes import _colour as col, _grading as grading
from nodes._grading import FRAMES  # noqa: F401  (graded video frames, for the process)
from nodegraph import Image, Number, Outputs, Path, Seed, Text, Video, node

Unit = Number(min=0.0, max=1.0)
LutFile = Path(kind="lut", extensions=(".cube",), must_exist=True)
Curve = Text(placeholder="0,0 0.25,0.2 0.75,0.85 1,1")


# -- 3D LUT --------------------------------------------------------------------------------------------
@node("grade.lut", title="Apply LUT", category="Grade", determinism="reads-files", pointwise=True)
def lut(image: Image, path: LutFile, strength: Unit = 1.0) -> Image:
    """Apply a 3D LUT from a .cube file (17, 33, 65 points or any size; Resolve's 1D shaper too)
    with tetrahedral interpolation, on display-encoded (sRGB) values as the LUT defines them.

    Args:
        image: the picture to grade (transparency is kept).
        path: the .cube file; relative paths are relative to the graph file.
        strength: how much of the LUT's change to apply (0: none, 1: all of it).
    """
    return grading.image(image, grading.lut_grade(path, strength))


@node("grade.lut_video", title="Apply LUT (video)", category="Grade", determinism="reads-files", pointwise=True)
@grading.video_doc(lut)
def lut_video(video: Video, path: LutFile, strength: Unit = 1.0) -> Video:
    grade = grading.lut_grade(path, strength, video.n_frames)
    return grading.video(video, lut_video, (grade.digest, strength), grade)  # type: ignore[attr-defined]


# -- curves ----------------------------------------------------------------------------------------------
@node("grade.curves", title="Curves", category="Grade", pointwise=True)
def curves(image: Image, master: Curve = "0,0 1,1", red: Curve = "0,0 1,1", green: Curve = "0,0 1,1",
           blue: Curve = "0,0 1,1") -> Image:
    """Tone curves through control points "x,y x,y ..." (0..1, x increasing) with a smooth curve
    that never overshoots between them (monotone cubic), on display-encoded values: each
    channel's curve first, then the master curve on all three.

    Args:
        image: the picture to grade (transparency is kept).
        master: the curve for red, green and blue together, e.g. "0,0 0.25,0.2 0.75,0.85 1,1"
            (an S-curve: more contrast).
        red: the red channel's curve.
        green: the green channel's curve.
        blue: the blue channel's curve.
    """
    return grading.image(image, grading.colour_grade(grading.curves_op(master, red, green, blue)))


@node("grade.curves_video", title="Curves (video)", category="Grade", pointwise=True)
@grading.video_doc(curves)
def curves_video(video: Video, master: Curve = "0,0 1,1", red: Curve = "0,0 1,1", green: Curve = "0,0 1,1",
                 blue: Curve = "0,0 1,1") -> Video:
    op = grading.curves_op(master, red, green, blue)
    return grading.video(video, curves_video, (master, red, green, blue), grading.colour_grade(op))


# -- levels --------------------------------------------------------------------------------------------
Gamma = Number(min=0.1, max=10.0)


@node("grade.levels", title="Levels", category="Grade", pointwise=True)
def levels(image: Image, in_black: Unit = 0.0, in_white: Unit = 1.0, gamma: Gamma = 1.0,
           out_black: Unit = 0.0, out_white: Unit = 1.0) -> Image:
    """Levels on display-encoded values: in_black goes to out_black and in_white to out_white
    (values beyond them are clipped), with a gamma for the mid-tones between.

    Args:
        image: the picture to grade (transparency is kept).
        in_black: the input value that becomes black (out_black), 0..1.
        in_white: the input value that becomes white (out_white), 0..1.
        gamma: mid-tones: above 1 brightens them, below 1 darkens them.
        out_black: the darkest output value.
        out_white: the brightest output value.
    """
    op = grading.levels_op(in_black, in_white, gamma, out_black, out_white)
    return grading.image(image, grading.colour_grade(op))


@node("grade.levels_video", title="Levels (video)", category="Grade", pointwise=True)
@grading.video_doc(levels)
def levels_video(video: Video, in_black: Unit = 0.0, in_white: Unit = 1.0, gamma: Gamma = 1.0,
                 out_black: Unit = 0.0, out_white: Unit = 1.0) -> Video:
    params = (in_black, in_white, gamma, out_black, out_white)
    return grading.video(video, levels_video, params, grading.colour_grade(grading.levels_op(*params)))


# -- lift / gamma / gain ------------------------------------------------------------------------------
Lift, GammaW, Gain = Number(min=-1.0, max=1.0), Number(min=0.1, max=4.0), Number(min=0.0, max=4.0)


@node("grade.lift_gamma_gain", title="Lift / gamma / gain", category="Grade", pointwise=True)
def lift_gamma_gain(image: Image, lift: Lift = 0.0, gamma: GammaW = 1.0, gain: Gain = 1.0,
                    lift_red: Lift = 0.0, lift_green: Lift = 0.0, lift_blue: Lift = 0.0,
                    gamma_red: GammaW = 1.0, gamma_green: GammaW = 1.0, gamma_blue: GammaW = 1.0,
                    gain_red: Gain = 1.0, gain_green: Gain = 1.0, gain_blue: Gain = 1.0) -> Image:
    """The three colour wheels of a grading suite, on display-encoded values, per channel:
    ``(gain * (x + lift * (1 - x))) ** (1 / gamma)``. Lift moves the shadows (white stays), gain
    the highlights (black stays), gamma the mid-tones. Each channel's value adds to (lift) or
    multiplies (gamma, gain) the master: lift_blue 0.05 gives blue shadows.

    Args:
        image: the picture to grade (transparency is kept).
        lift: shadows, all channels (-1..1; 0 leaves them).
        gamma: mid-tones, all channels (above 1 brightens).
        gain: highlights, all channels (a multiplier).
        lift_red: added to lift for red.
        lift_green: added to lift for green.
        lift_blue: added to lift for blue.
        gamma_red: multiplies gamma for red.
        gamma_green: multiplies gamma for green.
        gamma_blue: multiplies gamma for blue.
        gain_red: multiplies gain for red.
        gain_green: multiplies gain for green.
        gain_blue: multiplies gain for blue.
    """
    op = grading.lgg_op(lift, gamma, gain, lift_red, lift_green, lift_blue, gamma_red, gamma_green, gamma_blue,
                        gain_red, gain_green, gain_blue)
    return grading.image(image, grading.colour_grade(op))


@node("grade.lift_gamma_gain_video", title="Lift / gamma / gain (video)", category="Grade", pointwise=True)
@grading.video_doc(lift_gamma_gain)
def lift_gamma_gain_video(video: Video, lift: Lift = 0.0, gamma: GammaW = 1.0, gain: Gain = 1.0,
                          lift_red: Lift = 0.0, lift_green: Lift = 0.0, lift_blue: Lift = 0.0,
                          gamma_red: GammaW = 1.0, gamma_green: GammaW = 1.0, gamma_blue: GammaW = 1.0,
                          gain_red: Gain = 1.0, gain_green: Gain = 1.0, gain_blue: Gain = 1.0) -> Video:
    params = (lift, gamma, gain, lift_red, lift_green, lift_blue, gamma_red, gamma_green, gamma_blue,
              gain_red, gain_green, gain_blue)
    return grading.video(video, lift_gamma_gain_video, params, grading.colour_grade(grading.lgg_op(*params)))


# -- hue / saturation / vibrance -----------------------------------------------------------------------
Hue, Sat, Vib = Number(min=-180.0, max=180.0), Number(min=0.0, max=4.0), Number(min=-1.0, max=1.0)


@node("grade.hue_saturation", title="Hue / saturation", category="Grade", pointwise=True)
def hue_saturation(image: Image, hue: Hue = 0.0, saturation: Sat = 1.0, vibrance: Vib = 0.0) -> Image:
    """Turn hues, and make colours more or less vivid, in linear light around the grey of the same
    luminance (saturation 0 gives the black-and-white picture a camera's luminance would).

    Args:
        image: the picture to grade (transparency is kept).
        hue: degrees to turn every hue (positive: red towards yellow and green).
        saturation: 0 grey, 1 unchanged, 2 twice as vivid.
        vibrance: like saturation, but dull colours change more than vivid ones (skin tones are spared); -1..1.
    """
    return grading.image(image, grading.colour_grade(col.hue_sat_op(hue, saturation, vibrance)))


@node("grade.hue_saturation_video", title="Hue / saturation (video)", category="Grade", pointwise=True)
@grading.video_doc(hue_saturation)
def hue_saturation_video(video: Video, hue: Hue = 0.0, saturation: Sat = 1.0, vibrance: Vib = 0.0) -> Video:
    return grading.video(video, hue_saturation_video, (hue, saturation, vibrance),
                         grading.colour_grade(col.hue_sat_op(hue, saturation, vibrance)))


# -- white balance -------------------------------------------------------------------------------------
Kelvin, Tint = Number(min=1700.0, max=25000.0), Number(min=-100.0, max=100.0)


@node("grade.white_balance", title="White balance", category="Grade", pointwise=True)
def white_balance(image: Image, temperature: Kelvin = 6500.0, tint: Tint = 0.0) -> Image:
    """Correct the colour of the light, in linear light (a chromatic adaptation, Bradford, with
    colour-science): say what light the shot was lit by and it is made neutral (6500 K, tint 0
    changes nothing). As in photo editors: a higher temperature warms the picture, a lower one
    cools it; a positive tint adds magenta, a negative one green.

    Args:
        image: the picture to grade (transparency is kept).
        temperature: the colour temperature of the light in the shot, in kelvin.
        tint: the light's shift off the daylight line: positive (a green cast) is corrected towards magenta.
    """
    return grading.image(image, grading.colour_grade(col.white_balance_op(temperature, tint)))


@node("grade.white_balance_video", title="White balance (video)", category="Grade", pointwise=True)
@grading.video_doc(white_balance)
def white_balance_video(video: Video, temperature: Kelvin = 6500.0, tint: Tint = 0.0) -> Video:
    return grading.video(video, white_balance_video, (temperature, tint),
                         grading.colour_grade(col.white_balance_op(temperature, tint)))


# -- film grain ------------------------------------------------------------------------------------------
GrainSize = Number(min=1.0, max=8.0)


@node("grade.grain", title="Film grain", category="Grade", determinism="seeded")
def grain(image: Image, amount: Unit = 0.3, size: GrainSize = 1.5, chroma: Unit = 0.0, seed: Seed = 0) -> Image:
    """Add film grain: seeded noise (the same seed gives the same grain on every machine), zero on
    average, strongest in the mid-tones, on display-encoded values (even to the eye).

    Args:
        image: the picture to grade (transparency is kept).
        amount: strength (1: a spread of about 0.1 of the full range in the mid-tones).
        size: grain size in pixels (1: single-pixel grain).
        chroma: 0 grain in brightness only, 1 independent grain per colour channel.
        seed: which grain; a video's frame i uses seed + i, so the grain moves.
    """
    return grading.image(image, grading.grain_grade(amount, size, chroma, seed))


@node("grade.grain_video", title="Film grain (video)", category="Grade", determinism="seeded")
@grading.video_doc(grain)
def grain_video(video: Video, amount: Unit = 0.3, size: GrainSize = 1.5, chroma: Unit = 0.0, seed: Seed = 0) -> Video:
    return grading.video(video, grain_video, (amount, size, chroma, seed),
                         grading.grain_grade(amount, size, chroma, seed), per_frame=True)


# -- vignette --------------------------------------------------------------------------------------------
Radius01, Soft = Number(min=0.0, max=1.5), Number(min=0.01, max=2.0)


@node("grade.vignette", title="Vignette", category="Grade")
def vignette(image: Image, amount: Unit = 0.35, radius: Radius01 = 0.5, softness: Soft = 0.6) -> Image:
    """Darken towards the corners, as a lens does, by scaling the light (in linear light); the
    centre is untouched.

    Args:
        image: the picture to grade (transparency is kept).
        amount: how much light the corners lose (1: black corners).
        radius: where the darkening starts, as a fraction of the way from the centre to a corner
            (along an ellipse of the frame's shape).
        softness: over how much of that way it fades in.
    """
    return grading.image(image, grading.vignette_grade(amount, radius, softness))


@node("grade.vignette_video", title="Vignette (video)", category="Grade")
@grading.video_doc(vignette)
def vignette_video(video: Video, amount: Unit = 0.35, radius: Radius01 = 0.5, softness: Soft = 0.6) -> Video:
    return grading.video(video, vignette_video, (amount, radius, softness),
                         grading.vignette_grade(amount, radius, softness))


# -- blur and sharpen ----------------------------------------------------------------------------------------
BlurRadius, SharpAmount, SharpRadius = Number(min=0.0, max=250.0), Number(min=0.0, max=5.0), Number(min=0.3, max=20.0)


@node("grade.blur", title="Blur", category="Grade")
def blur(image: Image, radius: BlurRadius = 4.0) -> Image:
    """Gaussian blur in linear light (highlights spread as light does; the average brightness stays).

    Args:
        image: the picture to blur (transparency is kept, not blurred).
        radius: the blur's size in pixels (the Gaussian's sigma).
    """
    return grading.image(image, grading.blur_grade(radius))


@node("grade.blur_video", title="Blur (video)", category="Grade")
@grading.video_doc(blur)
def blur_video(video: Video, radius: BlurRadius = 4.0) -> Video:
    return grading.video(video, blur_video, (radius,), grading.blur_grade(radius))


@node("grade.sharpen", title="Sharpen", category="Grade")
def sharpen(image: Image, amount: SharpAmount = 1.0, radius: SharpRadius = 1.0) -> Image:
    """Sharpen with an unsharp mask on display-encoded values: fine detail is strengthened, the
    average brightness stays.

    Args:
        image: the picture to sharpen (transparency is kept).
        amount: how much detail to add (1: double the detail finer than radius).
        radius: the size of the detail, in pixels.
    """
    return grading.image(image, grading.sharpen_grade(amount, radius))


@node("grade.sharpen_video", title="Sharpen (video)", category="Grade")
@grading.video_doc(sharpen)
def sharpen_video(video: Video, amount: SharpAmount = 1.0, radius: SharpRadius = 1.0) -> Video:
    return grading.video(video, sharpen_video, (amount, radius), grading.sharpen_grade(amount, radius))


# -- glow ---------------------------------------------------------------------------------------------------
GlowRadius, Intensity = Number(min=0.5, max=250.0), Number(min=0.0, max=4.0)


@node("grade.glow", title="Glow", category="Grade")
def glow(image: Image, threshold: Unit = 0.75, radius: GlowRadius = 20.0, intensity: Intensity = 0.8) -> Image:
    """Highlights bloom: the light above a threshold is blurred and added back, in linear light.

    Args:
        image: the picture (transparency is kept).
        threshold: the display brightness above which light glows (0..1).
        radius: how far the glow spreads, in pixels.
        intensity: how bright the glow is.
    """
    return grading.image(image, grading.glow_grade(threshold, radius, intensity))


@node("grade.glow_video", title="Glow (video)", category="Grade")
@grading.video_doc(glow)
def glow_video(video: Video, threshold: Unit = 0.75, radius: GlowRadius = 20.0, intensity: Intensity = 0.8) -> Video:
    return grading.video(video, glow_video, (threshold, radius, intensity),
                         grading.glow_grade(threshold, radius, intensity))


# -- chroma key ---------------------------------------------------------------------------------------------
Tolerance = Number(min=0.0, max=2.0)


@node("grade.chroma_key", title="Chroma key", category="Grade")
def chroma_key(image: Image, key_color: Text = "#00ff00", tolerance: Tolerance = 0.3, softness: Tolerance = 0.2,
               spill: Unit = 1.0) -> Outputs(image=Image, matte=Image):
    """Key out a green (or blue, any saturated) screen: the picture with transparency, and the
    matte (white solid, black keyed out). Spill suppression takes the key's colour out of what
    stays (the green cast on hair and edges), keeping its brightness. Works on display-encoded
    Y'CbCr, as keyers do.

    Args:
        image: the picture shot against the screen.
        key_color: the screen's colour as #rrggbb.
        tolerance: how far from the key's colour (as a fraction of its strength) is still keyed out fully.
        softness: over how much further the matte fades from see-through to solid (soft edges).
        spill: how much of the key's colour to take out of what stays (0: none, 1: all).
    """
    out = grading.key_grade(key_color, tolerance, softness, spill)(0, image.pixels)
    return {"image": Image(out), "matte": Image(out[:, :, 3:])}


@node("grade.chroma_key_video", title="Chroma key (video)", category="Grade")
@grading.video_doc(chroma_key)
def chroma_key_video(video: Video, key_color: Text = "#00ff00", tolerance: Tolerance = 0.3,
                     softness: Tolerance = 0.2, spill: Unit = 1.0) -> Outputs(video=Video, matte=Video):
    keyed = grading.video(video, chroma_key_video, (key_color, tolerance, softness, spill),
                          grading.key_grade(key_color, tolerance, softness, spill), alpha=True)

    def matte_key(i: int) -> bytes:
        return blake3.blake3(b"matte\0" + keyed.key(i)).digest()

    def matte(i: int) -> np.ndarray:
        def make() -> np.ndarray:
            m = np.ascontiguousarray(np.repeat(keyed.frame(i)[:, :, 3:], 3, axis=2))
            m.flags.writeable = False
            return m
        return grading.FRAMES.get((matte_key(i),), make)

    matte_video = Video(matte, video.n_frames, video.width, video.height, video.fps, keep=keyed,
                        frame_key=matte_key, cuts=video.cuts)
    return {"video": keyed, "matte": matte_video}


# -- for baking ----------------------------------------------------------------------------------------------
def pixel_op(type_id: str, params: dict) -> col.Op:
    """The colour operation of a ``pointwise`` grading node (image or video variant) with these
    params (missing ones take their defaults; a LUT's ``path`` must be resolved already), as an Op
    whose ``display(rgb)`` maps display-encoded float RGB (..., 3): what a bake into a 3D LUT samples."""
    base = type_id.removesuffix("_video")
    fns = {"grade.lut": lut, "grade.curves": curves, "grade.levels": levels, "grade.lift_gamma_gain": lift_gamma_gain,
           "grade.hue_saturation": hue_saturation, "grade.white_balance": white_balance}
    if base not in fns:
        raise ValueError(f"{type_id} is not a per-pixel colour node")
    spec = fns[base].__nodegraph__  # type: ignore[attr-defined]
    p = {port.name: params.get(port.name, port.default) for port in spec.inputs if port.is_param}
    if base == "grade.lut":
        return grading.lut_grade(p["path"], p["strength"]).op  # type: ignore[attr-defined]
    if base == "grade.curves":
        return grading.curves_op(p["master"], p["red"], p["green"], p["blue"])
    if base == "grade.levels":
        return grading.levels_op(p["in_black"], p["in_white"], p["gamma"], p["out_black"], p["out_white"])
    if base == "grade.lift_gamma_gain":
        names = ("lift", "gamma", "gain", "lift_red", "lift_green", "lift_blue", "gamma_red", "gamma_green",
                 "gamma_blue", "gain_red", "gain_green", "gain_blue")
        return grading.lgg_op(*(p[k] for k in names))
    if base == "grade.hue_saturation":
        return col.hue_sat_op(p["hue"], p["saturation"], p["vibrance"])
    return col.white_balance_op(p["temperature"], p["tint"])
