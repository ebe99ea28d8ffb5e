"""Sign an output file with a C2PA manifest and read one back (through ``c2pa-python``).

See the package docstring (``nodegraph.credentials``) for the API and the manifest written.
"""
from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from typing import Any

from .identity import CredentialsError, Identity, c2pa_module

#: label of the assertion that holds nodegraph's provenance record
RECORD_LABEL = "org.nodegraph.provenance"
SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AI_GENERATED = SOURCE_TYPE + "trainedAlgorithmicMedia"
# Not made by a model: a person built the graph with a digital tool (IPTC "digitalCreation"),
# rather than "algorithmicMedia" (made purely by an algorithm): nodegraph's own nodes compose,
# grade and synthesise what the graph's author chose
NOT_AI = SOURCE_TYPE + "digitalCreation"
#: the only validation code a self-made test identity is expected to produce
UNTRUSTED = "signingCredential.untrusted"

# outputs c2pa-rs cannot embed a manifest in; their manifest store goes to FILE.c2pa, bound to
# the file's bytes by a hash of the whole file (format: the media type the manifest states)
SIDECAR_FORMATS = {".otio": "application/json", ".json": "application/json", ".edl": "text/plain",
                   ".fcpxml": "application/xml", ".xml": "application/xml", ".srt": "text/plain",
                   ".vtt": "text/vtt", ".txt": "text/plain", ".cube": "text/plain"}
SIDECAR_SUFFIX = ".c2pa"
#: the largest sidecar read (nodegraph's are a few KB; a file of the name may be planted)
MAX_SIDECAR = 16 * 1024 * 1024


def _embed_formats() -> frozenset[str]:
    c2pa = c2pa_module()

    return frozenset(c2pa.Builder.get_supported_mime_types())


def embeds(path: str | os.PathLike) -> bool:
    """Whether c2pa-rs embeds the manifest inside a file of this kind (by its extension)."""
    ext = Path(path).suffix.lower().lstrip(".")
    return bool(ext) and ext not in ("c2pa",) and ext in _embed_formats()


def supported(path: str | os.PathLike) -> bool:
    """Whether :func:`sign_file` can give this file content credentials: embedded (PNG, JPEG,
    WebP, MP4/M4V/MOV/M4A, WAV, FLAC, MP3, ...) or in a sidecar (OTIO, EDL, FCPXML, ...)."""
    return embeds(path) or Path(path).suffix.lower() in SIDECAR_FORMATS


def sidecar_path(path: str | os.PathLike) -> Path:
    """``FILE.c2pa``: the whole name plus ``.c2pa``, so that ``cut.otio`` and ``cut.edl`` in one
    folder get one sidecar each. (c2pa-rs looks for ``cut.c2pa`` beside media it can read, but it
    reads no OTIO or EDL file, so nothing finds the shorter name there anyway.)"""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def _format(path: Path) -> str:
    if embeds(path):
        return path.suffix.lower().lstrip(".")
    fmt = SIDECAR_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CredentialsError(f"{path}: C2PA content credentials are not written for {path.suffix or 'extensionless'} "
                               f"files (c2pa-rs embeds them in: {', '.join(sorted(e for e in _embed_formats() if '/' not in e))}; "
                               f"a sidecar is written for: {', '.join(sorted(SIDECAR_FORMATS))})")
    return fmt


def _regular(path: Path, verb: str = "sign") -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise CredentialsError(f"{path}: no such file to {verb}") from None
    except OSError as e:
        from ..fsio import reason_of

        raise CredentialsError(f"{path}: {reason_of(e)}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CredentialsError(f"{path}: not a regular file (a link, folder, FIFO or device); nothing was "
                               f"{'signed' if verb == 'sign' else 'read'}")


def manifest_definition(path: str | os.PathLike, record: dict, *, ai_generated: bool,
                        title: str | None = None, digital_source_type: str | None = None) -> dict:
    """The manifest definition :func:`sign_file` hands to ``c2pa.Builder`` (no file is read)."""
    from .. import __version__

    p = Path(path)
    if not isinstance(record, dict):
        raise CredentialsError(f"{p}: the provenance record must be a dict, not {type(record).__name__}")
    try:
        # a JSON text, not the dict itself: c2pa-rs 0.91 reports an array of small integers in an
        # assertion (seeds, sizes) as a base64 byte string and truncates values over 255
        # (contentauth/c2pa-rs#2570), so the record would not read back as written
        text = json.dumps(record, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise CredentialsError(f"{p}: the provenance record is not plain JSON ({e})") from None
    agent = {"name": "nodegraph", "version": __version__}
    source = digital_source_type or (AI_GENERATED if ai_generated else NOT_AI)
    if not source.startswith("http"):
        source = SOURCE_TYPE + source
    return {
        "claim_generator_info": [dict(agent)],
        "title": title if title is not None else p.name,
        "format": _format(p),
        "assertions": [
            {"label": "c2pa.actions",
             "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": source, "softwareAgent": agent}]}},
            {"label": RECORD_LABEL, "data": {"format": "application/json", "record": text}},
        ],
    }


def _context(trust_anchors: str | None = None):
    c2pa = c2pa_module()

    settings: dict[str, Any] = {
        # the output is the picture: no second copy of it inside the manifest (a PNG's JPEG
        # thumbnail made its manifest 180 KB instead of 3.5 KB)
        "builder": {"thumbnail": {"enabled": False}},
        # files are untrusted: reading one never goes to the network
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    }
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    return c2pa.Context(settings=c2pa.Settings.from_dict(settings))


def sign_file(path: str | os.PathLike, record: dict, signer: Identity, *, ai_generated: bool,
              title: str | None = None, digital_source_type: str | None = None) -> Path:
    """Give ``path`` a signed C2PA manifest (see the package docstring); returns the file that
    holds it: ``path`` itself, or its sidecar ``FILE.c2pa``. Call it after the last write to the
    file: any later change to its bytes makes readers report the manifest's hash as mismatched.
    On any failure ``path`` is untouched and a :class:`CredentialsError` names it."""
    c2pa = c2pa_module()

    from .. import fsio

    p = Path(path)
    _regular(p)
    definition = manifest_definition(p, record, ai_generated=ai_generated, title=title,
                                     digital_source_type=digital_source_type)
    fmt = definition["format"]
    c2pa_signer = signer.c2pa_signer()
    try:
        builder = c2pa.Builder(definition, context=_context())
        if embeds(p):
            # the signed copy goes to a private folder beside the file, then replaces it whole;
            # c2pa-rs reads the copy back while embedding (BMFF offsets), so it is opened w+b
            with fsio.atomic_path(p) as tmp:
                with open(p, "rb") as src, open(tmp, "w+b") as dst:
                    builder.sign(c2pa_signer, fmt, src, dst)
            return p
        builder.set_no_embed()
        with open(p, "rb") as src:
            store = builder.sign(c2pa_signer, fmt, src, io.BytesIO())
        out = sidecar_path(p)
        fsio.write_bytes(out, store)
        return out
    except c2pa.C2paError as e:
        raise CredentialsError(f"{p}: cannot sign it with {signer.key_path}: {e}") from None
    except fsio.WriteFailed:
        raise
    except OSError as e:
        raise CredentialsError(f"{p}: cannot sign it: {fsio.reason_of(e)}") from None
    finally:
        c2pa_signer.close()


def read_manifest(path: str | os.PathLike, *, trust_anchors: str | os.PathLike | None = None) -> dict | None:
    """The active C2PA manifest of ``path`` (embedded, else in ``FILE.c2pa``), validated, as a
    plain dict (see the package docstring); None when the file carries none. ``trust_anchors``:
    a PEM file of root certificates to trust (for example a test identity's ``NAME.ca.pem``)."""
    c2pa = c2pa_module()

    p = Path(path)
    anchors = None
    if trust_anchors is not None:
        from .identity import _read

        anchors = _read(Path(trust_anchors), "trust anchor").decode("utf-8", "replace")
    _regular(p, "read")
    side = sidecar_path(p)
    fmt = p.suffix.lower().lstrip(".") if embeds(p) else SIDECAR_FORMATS.get(p.suffix.lower(), "application/octet-stream")
    try:
        with open(p, "rb") as f:
            reader = None
            if embeds(p):
                reader = c2pa.Reader.try_create(fmt, f, None, _context(anchors))
            if reader is None and os.path.isfile(side) and not os.path.islink(side):
                if os.path.getsize(side) > MAX_SIDECAR:
                    raise CredentialsError(f"{side}: {os.path.getsize(side)} bytes is too big for a manifest store "
                                           f"(at most {MAX_SIDECAR})")
                f.seek(0)
                reader = c2pa.Reader(fmt, f, side.read_bytes(), context=_context(anchors))
            if reader is None:
                return None
            with reader:
                store = json.loads(reader.json())
                state = reader.get_validation_state()
                embedded = reader.is_embedded()
    except c2pa.C2paError as e:
        raise CredentialsError(f"{p}: its C2PA manifest cannot be read: {e}") from None
    except OSError as e:
        from ..fsio import reason_of

        raise CredentialsError(f"{p}: cannot read it: {reason_of(e)}") from None
    return summarize(store, state, embedded=embedded, sidecar=None if embedded else side)


def summarize(store: dict, state: str | None, *, embedded: bool, sidecar: Path | None) -> dict:
    """The reader's manifest store as nodegraph reports it."""
    label = store.get("active_manifest")
    m = (store.get("manifests") or {}).get(label) or {}
    actions: list[dict] = []
    record = None
    for a in m.get("assertions") or []:
        if str(a.get("label", "")).startswith("c2pa.actions"):
            actions.extend((a.get("data") or {}).get("actions") or [])
        elif a.get("label") == RECORD_LABEL:
            data = a.get("data") or {}
            try:
                record = json.loads(data["record"]) if isinstance(data.get("record"), str) else None
            except ValueError:
                record = None
    created = next((a for a in actions if a.get("action") == "c2pa.created"), {})
    status = list(store.get("validation_status") or [])
    gen = m.get("claim_generator_info") or []
    return {
        "label": label,
        "title": m.get("title"),
        "claim_generator": " ".join(str(g.get(k)) for g in gen[:1] for k in ("name", "version") if g.get(k)),
        "claim_generator_info": gen,
        "actions": actions,
        "digital_source_type": created.get("digitalSourceType"),
        "ai_generated": created.get("digitalSourceType") == AI_GENERATED,
        "record": record,
        "signature": m.get("signature_info") or {},
        "validation_state": state,
        "validation_status": status,
        # what is wrong beyond an unknown signer (a hash mismatch means the bytes changed)
        "failures": [s.get("code") for s in status if s.get("code") != UNTRUSTED],
        "trusted": state == "Trusted",
        "embedded": embedded,
        "sidecar": str(sidecar) if sidecar else None,
    }
