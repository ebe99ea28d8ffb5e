"""Content credentials: a signed C2PA manifest in (or beside) each output, via ``c2pa-python``.

A C2PA manifest says, in a form any C2PA reader (c2patool, contentcredentials.org/verify, Adobe's
apps) checks and shows, which software made a file, whether a generative model made its content,
and nodegraph's own provenance record; it is signed, and bound to the file's bytes by a hash, so a
changed pixel or sample is reported. This package is the layer the writers and ``nodegraph run``
call; the package ``c2pa`` is imported only when a file is signed or read.

API::

    from nodegraph.credentials import signer_from, sign_file, read_manifest, supported

    signer = signer_from(None)          # -> Identity; or signer_from("studio.key.pem"),
                                        #    signer_from(key, cert), signer_from(required=False) -> None
    if supported(path):                 # PNG, JPEG, WebP, MP4/M4V/MOV/M4A, WAV, FLAC, MP3, ... embed;
        sign_file(path, record, signer, #    OTIO, EDL, FCPXML, XML, JSON, SRT, VTT, TXT, CUBE: sidecar
                  ai_generated=True, title=None)   # -> Path of the file holding the manifest
    info = read_manifest(path)          # -> dict | None
    new_identity(folder=None, name="default", force=False) -> Identity   # `nodegraph keys new`

``signer_from(key=None, cert=None, *, required=True) -> Identity | None``: ``key`` (a PEM private
key; its certificate chain ``cert``, else the ``NAME.cert.pem`` beside ``NAME.key.pem``), else
``$NODEGRAPH_SIGN_KEY`` / ``$NODEGRAPH_SIGN_CERT``, else the ``default`` identity ``nodegraph keys
new`` made in ``<config folder>/keys/``. Everything is checked before anything is signed: a missing
or unreadable file, a file that is not PEM, an encrypted key, a key that is not the
certificate's, a certificate C2PA refuses (a CA, self-signed, no digitalSignature usage, no
emailProtection/documentSigning EKU, expired) each raise :class:`CredentialsError` naming the file.

``sign_file(path, record, signer, *, ai_generated, title=None, digital_source_type=None) -> Path``:
call it after the last write to the file. Embedding formats are signed into a temp copy in the
file's own folder that then replaces the file (``nodegraph.fsio.atomic_path``); other supported
kinds get ``FILE.c2pa`` (the manifest store; the file is hashed whole and left as it is). On any
failure the file is untouched and :class:`CredentialsError` names it. Nothing is written outside
the file's folder. The manifest (C2PA 2.x claim, signed ES256 with the identity's key)::

    {"claim_generator_info": [{"name": "nodegraph", "version": "0.1.0"}],
     "title": "<file name, or title>", "format": "png",
     "assertions": [
       {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created",
           "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
           "softwareAgent": {"name": "nodegraph", "version": "0.1.0"}}]}},
       {"label": "org.nodegraph.provenance",
        "data": {"format": "application/json", "record": "<the record as compact sorted JSON>"}}]}

``digitalSourceType`` is ``trainedAlgorithmicMedia`` when ``ai_generated`` (a model made the
content) and ``digitalCreation`` otherwise (a person made it with a digital tool: the graph's
author); ``digital_source_type`` overrides it (e.g. ``compositeWithTrainedAlgorithmicMedia``).
The record is stored as JSON text because c2pa-rs reports integer arrays in assertions as byte
strings (contentauth/c2pa-rs#2570). No thumbnail is embedded.

``read_manifest(path, *, trust_anchors=None) -> dict | None``: ``None`` when the file (and its
``FILE.c2pa``) carries no manifest; else ``{"label", "title", "claim_generator"
("nodegraph 0.1.0"), "claim_generator_info", "actions", "digital_source_type", "ai_generated",
"record" (the dict given to sign_file), "signature" (issuer, common_name, alg, time, ...),
"validation_state" ("Invalid" / "Valid" / "Trusted"), "validation_status" (the reader's list),
"failures" (its codes other than ``signingCredential.untrusted``: empty when the file is intact),
"trusted", "embedded", "sidecar"}``. A test identity reads as ``Valid`` with the one status
``signingCredential.untrusted``; with ``trust_anchors=<its NAME.ca.pem>`` as ``Trusted``. Reading
never fetches anything over the network (remote manifests and OCSP are off).
"""
from .identity import (CredentialsError, Identity, keys_dir, load_identity, new_identity, signer_from,
                       ENV_SIGN_CERT, ENV_SIGN_KEY)
from .manifest import (AI_GENERATED, NOT_AI, RECORD_LABEL, UNTRUSTED, embeds, manifest_definition, read_manifest,
                       sidecar_path, sign_file, supported)

__all__ = ["AI_GENERATED", "CredentialsError", "ENV_SIGN_CERT", "ENV_SIGN_KEY", "Identity", "NOT_AI", "RECORD_LABEL",
           "UNTRUSTED", "embeds", "keys_dir", "load_identity", "manifest_definition", "new_identity",
           "read_manifest", "sidecar_path", "sign_file", "signer_from", "supported"]
