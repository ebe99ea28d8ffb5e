"""The editor canvas's geometry (no window) and the reroute points it saves in the layout."""
from __future__ import annotations

import json

import pytest

from nodegraph.editor.canvas_geom import (
    ZOOM_MAX, ZOOM_MIN, ViewXform, bbox, dist_to_polyline, lod_of, node_geom, wire_path, wrap,
)
from nodegraph.editor.session import EditorSession, PinView
from nodegraph.errors import GraphFileError
from nodegraph.fileformat import dumps, loads


def test_zoom_keeps_the_point_under_the_cursor_and_clamps():
    xf = ViewXform(zoom=0.7, pan=(13.0, -40.0))
    at = (321.0, 207.0)
    g = xf.to_graph(at)
    xf.zoom_at(at, 1.9)
    assert xf.zoom == 1.9 and xf.to_graph(at) == pytest.approx(g)
    xf.zoom_at(at, 99.0)
    assert xf.zoom == ZOOM_MAX == 4.0 and xf.to_graph(at) == pytest.approx(g)
    xf.zoom_at(at, 0.0001)
    assert xf.zoom == ZOOM_MIN == 0.1 and xf.to_graph(at) == pytest.approx(g)


def test_fit_shows_the_box_whole_and_centred():
    xf = ViewXform()
    box = (-200.0, 100.0, 3800.0, 2100.0)
    xf.fit(box, (1000.0, 700.0), margin=30)
    a, b = xf.to_local(box[:2]), xf.to_local(box[2:])
    assert a[0] >= 29.9 and a[1] >= 29.9 and b[0] <= 970.1 and b[1] <= 670.1
    assert (a[0] + b[0]) / 2 == pytest.approx(500) and (a[1] + b[1]) / 2 == pytest.approx(350)
    xf.presenter = 2.0
    xf.fit(box, (1000.0, 700.0), margin=30)
    assert xf.to_local(box[2:])[0] <= 970.1  # the presenter scale is part of the fit


def test_level_of_detail_and_wrapping():
    assert [lod_of(s) for s in (0.1, 0.44, 0.5, 0.79, 1.0, 4.0)] == [0, 0, 1, 1, 2, 2]
    lines = wrap("one two three four five six seven eight nine ten eleven twelve thirteen fourteen", 20, 3)
    assert len(lines) == 3 and all(len(l) <= 20 for l in lines) and lines[-1].endswith("...")
    assert wrap("a\\nb") == ["a", "b"]


def test_node_geometry_places_pins_and_wraps_multiline_text():
    from types import SimpleNamespace

    ins = [PinView("image", "image", (1, 2, 3)), PinView("text", "text", (1, 2, 3), is_param=True, value="x " * 80)]
    outs = [PinView("image", "image", (1, 2, 3))]
    v = SimpleNamespace(inputs=ins, outputs=outs, collapsed=False)
    g = node_geom(v, "Draw text", {"text"})
    assert g.inputs["image"][0] == 0 and g.outputs["image"][0] == g.w
    assert g.inputs["text"][1] > g.inputs["image"][1]
    assert len(g.wrapped["text"]) == 3 and g.h > g.inputs["text"][1] + 40
    folded = node_geom(SimpleNamespace(inputs=ins, outputs=outs, collapsed=True), "Draw text")
    assert folded.inputs == {} and list(folded.outputs) == ["image"]


def test_wire_paths_pass_through_reroute_points():
    pts = wire_path((0, 0), (300, 100), [(150, 300)])
    assert pts[0] == (0, 0) and pts[-1] == (300, 100) and (150, 300) in pts
    assert dist_to_polyline((150, 300), pts) == 0
    assert bbox([(0, 0, 1, 1), (5, -2, 6, 3)]) == (0, -2, 6, 3)


def test_reroute_points_are_saved_undone_and_checked(tmp_path):
    s = EditorSession(config_dir=tmp_path / "cfg")
    s.add_node("image.gradient", (0, 0))
    s.add_node("image.save_png", (400, 0))
    assert s.connect("gradient", "image", "save_png", "image") is None
    s.set_reroutes("save_png", "image", [(200, 300), (250, 310)])
    text = dumps(s.doc)
    assert json.loads(text)["layout"]["save_png"]["reroute"] == {"image": [[200.0, 300.0], [250.0, 310.0]]}
    again = loads(text)
    assert again.layout["save_png"]["reroute"] == {"image": [[200.0, 300.0], [250.0, 310.0]]}
    assert again.revision == loads(text).revision  # layout only: nothing a cache key sees
    s.undo()
    assert "reroute" not in s.doc.layout.get("save_png", {})
    s.redo()
    s.set_reroutes("save_png", "image", [])
    assert "reroute" not in s.doc.layout.get("save_png", {})
    data = json.loads(text)
    data["layout"]["save_png"]["reroute"] = {"image": [[1, "x"]]}
    with pytest.raises(GraphFileError, match=r"layout\.save_png\.reroute\.image"):
        loads(json.dumps(data))
    del data["layout"]["save_png"]["reroute"]
    assert "reroute" not in loads(json.dumps(data)).layout.get("save_png", {})  # files without them load as before
    s.close()
