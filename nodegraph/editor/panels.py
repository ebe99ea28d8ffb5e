"""The editor window's side panels: the inspector (a node's settings as widgets) and the Groups
tab (the preview and the log are in ``outputs.py``).

``InspectorMixin`` is part of ``GraphView`` (the inspected node is the view's selection); the
Groups tab is a small object the view owns and calls once per frame.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from .theme import DIM, ERROR, WARN

COLOR_TEXT = re.compile(r"^#[0-9a-fA-F]{6}\Z")
CACHE_POLICIES = ("default", "always", "never")


def short(value: Any, n: int = 18) -> str:
    """``value`` as a short one-line text (for pin labels and status lines)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    text = value if isinstance(value, str) else repr(value) if not isinstance(value, (int, float)) else f"{value:g}"
    text = text.replace("\n", " ").replace("\\n", " ")
    return text if len(text) <= n else text[: n - 3] + "..."


class InspectorMixin:
    """The Inspector tab of ``GraphView``: the inspected node's params as widgets (edits go to the
    session), its cache policy, pin and fold switches and last run status.

    Uses from the view: ``s``, ``_links``, ``_text_widgets``, ``_guard``, ``message``, ``preview_panel``."""

    _inspected: str | None
    _inspector_key: Any
    _inspector_widgets: dict[str, int]
    _inspector_pending: bool
    _path_target: tuple[str, str] | None

    def inspect(self, nid: str | None) -> None:
        if nid != self._inspected:
            self._inspected = nid
            self._inspector_key = None
            self._inspector_pending = True
            self.preview_panel.reset()

    @property
    def inspected(self) -> str | None:
        return self._inspected

    def param_widget(self, name: str) -> int | None:
        """The inspector widget of param ``name`` of the inspected node (tests use it)."""
        return self._inspector_widgets.get(name)

    def _refresh_inspector(self) -> None:
        self._inspector_pending = False
        nid = self._inspected
        if nid is None or nid not in self.s.doc:
            if self._inspector_key != "empty":
                self._inspector_key = "empty"
                dpg.delete_item("ng_inspector", children_only=True)
                dpg.add_text("Select a node to see its settings.", parent="ng_inspector", color=DIM)
            return
        try:
            iv = self.s.inspector(nid)
        except Exception as e:  # an unknown node type
            key = ("unknown", nid, str(e))
            if self._inspector_key != key:
                self._inspector_key = key
                dpg.delete_item("ng_inspector", children_only=True)
                dpg.add_text(nid, parent="ng_inspector")
                dpg.add_text(str(e), parent="ng_inspector", wrap=370, color=ERROR)
            return
        nv = self.s.node_view(nid)
        key = (nid, iv.title, iv.doc, repr([(p.name, p.kind, p.value, p.linked, p.overridden_by) for p in iv.params]),
               iv.cache_policy, iv.pinned, nv.collapsed, tuple(sorted(self._input_sources(nid).items())))
        if key != self._inspector_key:
            self._inspector_key = key
            self._build_inspector(iv, nv)
        self._update_inspector_status(iv)

    def _input_sources(self, nid: str) -> dict[str, str]:
        out: dict[str, list[str]] = {}
        for key in self._links:
            if key[2] == nid:
                out.setdefault(key[3], []).append(f"{key[0]}.{key[1]}")
        return {k: ", ".join(v) for k, v in out.items()}

    def _build_inspector(self, iv: Any, nv: Any) -> None:
        parent = "ng_inspector"
        dpg.delete_item(parent, children_only=True)
        self._inspector_widgets = {}
        sources = self._input_sources(iv.node_id)
        with dpg.group(parent=parent):
            dpg.add_text(iv.title, color=(235, 235, 245))
            dpg.add_text(f"{iv.node_id}   {nv.type}", color=(140, 140, 150))
            if iv.doc:
                dpg.add_text(" ".join(iv.doc.strip().split("\n\n")[0].split()), wrap=370, color=(170, 170, 180))
            if getattr(self.s, "is_instance", None) and self.s.is_instance(iv.node_id):
                self._inspector_look_line(iv.node_id)  # which Look, locked; view inside, unlock, upgrade
            dpg.add_spacer(height=2)
            with dpg.table(header_row=False, policy=dpg.mvTable_SizingStretchProp, borders_innerH=False):
                dpg.add_table_column(width_fixed=True, init_width_or_weight=int(96 * dpg.get_global_font_scale()))
                dpg.add_table_column(width_stretch=True)
                groups = list(dict.fromkeys(str(p.opts.get("group") or "") for p in iv.params))
                shown = None  # a Look's promoted params: by group, under its heading, with their labels
                for p in sorted(iv.params, key=lambda p: groups.index(str(p.opts.get("group") or ""))):
                    group = str(p.opts.get("group") or "")
                    if group != shown and (group or shown):
                        with dpg.table_row():
                            dpg.add_text(group or "Other", color=(200, 170, 245))
                            dpg.add_text("")
                    shown = group
                    with dpg.table_row():
                        lab = dpg.add_text(str(p.opts.get("label") or p.name))
                        with dpg.tooltip(lab):
                            rng = "" if p.opts.get("min") is None and p.opts.get("max") is None else \
                                f"   range: {p.opts.get('min', '')} to {p.opts.get('max', '')}"
                            dpg.add_text((p.doc + "\n" if p.doc else "") + f"{p.name}: {p.kind}   default: {p.default!r}{rng}",
                                         wrap=320)
                        if p.linked:
                            dpg.add_text("<- " + sources.get(p.name, "linked"), color=(150, 190, 255))
                        else:
                            self._param_widget(iv.node_id, p)
                    if p.overridden_by and not (p.linked and p.value is None):  # say where the value comes from
                        # (an unset number also shows it as its hint; the row stays: a hint hides while typing)
                        with dpg.table_row():
                            dpg.add_text("")
                            dpg.add_text(("value set here is not used: " if p.linked else "from ") + p.overridden_by,
                                         color=WARN if p.linked else (150, 190, 255), wrap=260,
                                         tag=f"ng_overridden_{p.name}")
            for port, src in sources.items():
                if port not in {p.name for p in iv.params}:
                    dpg.add_text(f"{port} <- {src}", color=(150, 190, 255))
            dpg.add_separator()
            with dpg.group(horizontal=True):
                dpg.add_text("cache")
                dpg.add_combo(list(CACHE_POLICIES), default_value=iv.cache_policy, width=110, tag="ng_cache_policy",
                              callback=lambda s, a: self._guard(lambda: self.s.set_cache_policy(iv.node_id, a), "cache policy"))
                dpg.add_checkbox(label="pin result", default_value=iv.pinned, tag="ng_pin",
                                 callback=lambda s, a: self._pin(iv.node_id, a))
                dpg.add_checkbox(label="folded", default_value=nv.collapsed,
                                 callback=lambda s, a: self.s.set_collapsed(iv.node_id, bool(a)))
            dpg.add_text("", tag="ng_inspector_status", wrap=370)

    def _pin(self, nid: str, on: bool) -> None:
        if on:
            why = self._guard(lambda: self.s.pin(nid), "pin")
            if why:
                self.message(why, WARN, log=False)
                dpg.set_value("ng_pin", False)
        else:
            self._guard(lambda: self.s.unpin(nid), "unpin")

    def _update_inspector_status(self, iv: Any) -> None:
        if not dpg.does_item_exist("ng_inspector_status"):
            return
        text = f"last run: {iv.status}"
        if iv.status == "computed":
            text += f" in {iv.seconds:.3f} s"
        if iv.message:
            text += f"\n{iv.message}"
        dpg.set_value("ng_inspector_status", text)
        dpg.configure_item("ng_inspector_status", color=ERROR if iv.status == "failed" else (160, 160, 170))

    def _text_input(self, w: int) -> int:
        """A widget typed into: keyboard shortcuts wait while it is active, and leaving it commits."""
        self._text_widgets.add(w)
        dpg.bind_item_handler_registry(w, "ng_commit_handlers")
        return w

    def _param_widget(self, nid: str, p: Any) -> None:
        ud = (nid, p.name)
        kind, value, opts = p.kind, p.value, p.opts or {}
        w: int
        if kind == "text":
            text = "" if value is None else str(value)
            if COLOR_TEXT.match(text):
                with dpg.group(horizontal=True):
                    rgb = [int(text[i:i + 2], 16) for i in (1, 3, 5)]
                    dpg.add_color_edit(rgb + [255], no_alpha=True, no_inputs=True, user_data=ud,
                                       callback=self._on_color)
                    w = dpg.add_input_text(default_value=text, width=-1, on_enter=True, user_data=ud,
                                           callback=self._on_value)
            elif opts.get("multiline"):
                with dpg.group():
                    w = dpg.add_input_text(default_value=text, multiline=True, height=70, width=-1, user_data=ud,
                                           on_enter=True, ctrl_enter_for_new_line=True, callback=self._on_value)
                    if len(text) > 40 or "\n" in text:  # the field does not wrap: the text, wrapped, under it
                        dpg.add_text(text.replace("\\n", "\n"), wrap=270, color=DIM)
                with dpg.tooltip(w, delay=1.0):
                    dpg.add_text("Enter applies the text; Ctrl+Enter starts a new line.")
            else:
                w = dpg.add_input_text(default_value=text, width=-1, on_enter=True, user_data=ud, callback=self._on_value)
            self._text_input(w)
        elif kind in ("int", "number") and value is None:  # unset: its default says "take it from elsewhere"
            hint = ("from " + p.overridden_by) if p.overridden_by else "unset"
            w = dpg.add_input_text(default_value="", hint=hint, width=-1, on_enter=True, user_data=(ud, kind),
                                   callback=self._on_number_text)
            self._text_input(w)
        elif kind in ("int", "seed"):
            kw: dict[str, Any] = {}
            if opts.get("min") is not None:
                kw.update(min_value=int(opts["min"]), min_clamped=True)
            if opts.get("max") is not None:
                kw.update(max_value=int(opts["max"]), max_clamped=True)
            if kind == "seed":
                with dpg.group(horizontal=True):
                    w = dpg.add_input_int(default_value=int(value or 0), width=-90, step=0, on_enter=True, user_data=ud,
                                          callback=self._on_value, **kw)
                    dpg.add_button(label="Randomise", user_data=ud,
                                   callback=lambda s, a, u: self._guard(lambda: self.s.randomize_seed(*u), "seed"))
            else:
                w = dpg.add_input_int(default_value=int(value or 0), width=-1, step=int(opts.get("step") or 1),
                                      on_enter=True, user_data=ud, callback=self._on_value, **kw)
            self._text_input(w)
        elif kind == "number":
            kw = {}
            if opts.get("min") is not None:
                kw.update(min_value=float(opts["min"]), min_clamped=True)
            if opts.get("max") is not None:
                kw.update(max_value=float(opts["max"]), max_clamped=True)
            w = dpg.add_input_double(default_value=float(value or 0.0), width=-1, step=float(opts.get("step") or 0.1),
                                     format="%.4g", on_enter=True, user_data=ud, callback=self._on_value, **kw)
            self._text_input(w)
        elif kind == "bool":
            w = dpg.add_checkbox(default_value=bool(value), user_data=ud, callback=self._on_value)
        elif kind == "choice":
            choices = [str(c) for c in opts.get("choices", ())]
            w = dpg.add_combo(choices, default_value=str(value) if value is not None else "", width=-1, user_data=ud,
                              callback=self._on_choice)
        elif kind == "path":
            with dpg.group(horizontal=True):
                w = dpg.add_input_text(default_value="" if value is None else str(value), width=-70, on_enter=True,
                                       user_data=ud, callback=self._on_value)
                dpg.add_button(label="Browse", user_data=ud, callback=lambda s, a, u: self._browse(u))
            self._text_input(w)
            if value:
                with dpg.tooltip(w):
                    dpg.add_text(str(self._guard(lambda: self.s.resolve_path(str(value)), "path") or value))
        else:
            w = dpg.add_text(short(value, 40), color=(170, 170, 180))
        self._inspector_widgets[p.name] = w

    def _set_param(self, nid: str, name: str, value: Any) -> None:
        why = self._guard(lambda: self.s.set_param(nid, name, value), "set param")
        if why:
            self.message(why, ERROR)
            self._inspector_key = None  # redraw the widget with the value kept
            self._inspector_pending = True

    def _on_value(self, sender: Any, app_data: Any, ud: tuple[str, str]) -> None:
        self._set_param(ud[0], ud[1], dpg.get_value(sender))

    def _on_number_text(self, sender: Any, app_data: Any, ud: tuple[tuple[str, str], str]) -> None:
        (nid, name), kind = ud
        text = str(dpg.get_value(sender)).strip()
        if not text:
            return
        try:
            value: Any = int(text) if kind == "int" else float(text)
        except ValueError:
            self.message(f"{name}: {text!r} is not a {'whole ' if kind == 'int' else ''}number", ERROR)
            return
        self._set_param(nid, name, value)

    def _on_choice(self, sender: Any, app_data: Any, ud: tuple[str, str]) -> None:
        self._set_param(ud[0], ud[1], app_data)

    def _on_color(self, sender: Any, app_data: Any, ud: tuple[str, str]) -> None:
        c = dpg.get_value(sender)
        scale = 255.0 if max(c[:3]) <= 1.0 else 1.0
        self._set_param(ud[0], ud[1], "#" + "".join(f"{int(round(x * scale)):02x}" for x in c[:3]))

    def _on_commit(self, sender: Any, item: Any) -> None:
        """A text or number field was left after an edit (without Enter): apply it."""
        ud = dpg.get_item_user_data(item)
        if isinstance(ud, tuple) and len(ud) == 2:
            self._set_param(ud[0], ud[1], dpg.get_value(item))

    def _browse(self, ud: tuple[str, str]) -> None:
        self._path_target = ud  # the path dialog's answer goes to this param (see ``_dialog_done``)
        # open where the current file is, not wherever the editor was started (else as it was)
        value = self.s.doc.params(ud[0]).get(ud[1]) if ud[0] in self.s.doc else None
        current = self._guard(lambda: self.s.resolve_path(str(value)), "path") if value else None
        if current is not None and Path(current).is_file():
            dpg.configure_item("ng_path_dialog", default_path=str(Path(current).parent))
        dpg.configure_item("ng_path_dialog", show=True)


# == groups tab =====================================================================================
class GroupsTab:
    """The Groups tab: each group with Go to and Ungroup buttons, and a button to group the
    selected nodes."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self._key: str | None = None

    def refresh(self, groups: list) -> None:
        v = self.view
        key = repr(groups)
        if self._key == key:
            return
        self._key = key
        dpg.delete_item("ng_groups", children_only=True)
        with dpg.group(horizontal=True, parent="ng_groups"):
            dpg.add_button(label="Group selected nodes", callback=lambda: v.group_selected())
        dpg.add_separator(parent="ng_groups")
        if not groups:
            dpg.add_text("No groups. Select nodes (drag a box on the canvas)\nand press Ctrl+G.", parent="ng_groups",
                         color=DIM)
        for gid, title, nodes in groups:
            with dpg.group(parent="ng_groups"):
                with dpg.group(horizontal=True):
                    dpg.add_text(title or gid, color=(220, 220, 235))
                    dpg.add_button(label="Go to", small=True, user_data=nodes,
                                   callback=lambda s, a, u: u and v.go_to(u[0]))
                    dpg.add_button(label="Ungroup", small=True, user_data=gid,
                                   callback=lambda s, a, u: v._guard(lambda: v.s.ungroup(u), "ungroup"))
                dpg.add_text(", ".join(nodes) or "(empty)", wrap=370, color=(150, 150, 160), indent=10)


__all__ = ["InspectorMixin", "GroupsTab", "short"]
