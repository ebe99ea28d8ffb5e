"""Signing identities for content credentials: make a test one, load one, check it.

An identity is two PEM files side by side: ``NAME.key.pem`` (the private key, mode 0600) and
``NAME.cert.pem`` (the signing certificate, then any intermediates; never the root). ``keys new``
also writes ``NAME.ca.pem``, the certificate of the small root CA that issued the signing
certificate, for readers that are told to trust it (``c2patool trust --trust_anchors NAME.ca.pem``).
The root's private key is thrown away once the signing certificate is issued.

The signing certificate meets what c2pa-rs checks of a C2PA claim signer (C2PA 2.x, section
"Trust model"): X.509 v3, not a CA (basic constraints CA:FALSE), key usage critical with
digitalSignature only, extended key usage emailProtection and documentSigning (never
anyExtendedKeyUsage), issued by a separate root (c2pa-rs refuses a self-signed signing
certificate), with subject and authority key identifiers and a validity period. The key is ECDSA
P-256 (ES256), the algorithm C2PA recommends.

A test identity is untrusted everywhere: readers show its manifests as valid but signed by an
unknown signer (``signingCredential.untrusted``) unless told to trust its root.
"""
from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NodegraphError

ENV_SIGN_KEY = "NODEGRAPH_SIGN_KEY"
ENV_SIGN_CERT = "NODEGRAPH_SIGN_CERT"
DEFAULT_NAME = "default"
KEY_SUFFIX, CERT_SUFFIX, CA_SUFFIX = ".key.pem", ".cert.pem", ".ca.pem"
# id-kp-documentSigning (RFC 9336); c2pa-rs accepts it and emailProtection by default
DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class CredentialsError(NodegraphError):
    """A key, certificate or manifest problem; the message names the file."""


def c2pa_module():
    """The ``c2pa`` package (c2pa-python and its native c2pa-rs library), or a clear error."""
    try:
        import c2pa
    except (ImportError, OSError) as e:
        raise CredentialsError("content credentials need the c2pa-python package and its native library "
                               f"(pip install c2pa-python): {e}") from None
    return c2pa


def keys_dir() -> Path:
    """``keys/`` in nodegraph's config folder (``$NODEGRAPH_CONFIG_DIR`` or the user's)."""
    from ..models.config import config_dir

    return config_dir() / "keys"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith("."):
        raise CredentialsError(f"identity name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
                               "starting with a letter or digit")
    return name


def identity_paths(folder: str | os.PathLike, name: str) -> tuple[Path, Path, Path]:
    """``(key, cert, ca)`` paths of identity ``name`` in ``folder``."""
    base = Path(folder)
    name = check_name(name)
    return base / (name + KEY_SUFFIX), base / (name + CERT_SUFFIX), base / (name + CA_SUFFIX)


@dataclass(frozen=True)
class Identity:
    """A loaded, checked signing identity (what ``sign_file`` takes as ``signer``)."""
    key_path: Path
    cert_path: Path
    alg: str                 # C2PA name: es256, es384, es512, ps256, ed25519
    key_pem: bytes = field(repr=False)      # never in a repr, a log or a traceback
    chain_pem: bytes = field(repr=False)    # signing certificate first
    subject: str
    issuer: str
    serial: int
    not_before: datetime.datetime
    not_after: datetime.datetime
    self_made: bool          # made by `nodegraph keys new` (a test identity)

    def c2pa_signer(self):
        """A fresh ``c2pa.Signer`` (one per signing: native signers are not shared across threads)."""
        c2pa = c2pa_module()

        info = c2pa.C2paSignerInfo(self.alg.encode(), self.chain_pem, self.key_pem, None)
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as e:
            raise CredentialsError(f"{self.key_path}: c2pa cannot make a signer from it and {self.cert_path}: "
                                   f"{e}") from None

    def describe(self) -> str:
        lines = [f"key:         {self.key_path}",
                 f"certificate: {self.cert_path}",
                 f"subject:     {self.subject}",
                 f"issuer:      {self.issuer}",
                 f"algorithm:   {self.alg.upper()}",
                 f"valid:       {self.not_before:%Y-%m-%d} to {self.not_after:%Y-%m-%d}"]
        if self.self_made:
            lines.append("trust:       a self-made TEST identity: C2PA readers show its manifests as signed by "
                         "an untrusted signer")
        return "\n".join(lines)


# -- making one ------------------------------------------------------------------------------------

TEST_ORG = "nodegraph test identity"


def new_identity(folder: str | os.PathLike | None = None, name: str = DEFAULT_NAME, *, force: bool = False,
                 common_name: str | None = None, days: int = 730) -> Identity:
    """Make a root CA and a signing certificate issued by it; write NAME.key.pem (0600),
    NAME.cert.pem and NAME.ca.pem into ``folder`` (default: :func:`keys_dir`) atomically.
    Refuses to replace an existing identity unless ``force``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

    from .. import fsio

    folder = Path(folder) if folder is not None else keys_dir()
    key_path, cert_path, ca_path = identity_paths(folder, name)
    if not force:
        there = [p for p in (key_path, cert_path, ca_path) if os.path.lexists(p)]
        if there:
            raise CredentialsError(f"{there[0]} already exists: identity {name!r} is made (use --force to "
                                   "replace it, or --name for another)")
    cn = common_name or f"nodegraph test signer ({name})"
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start = now - datetime.timedelta(minutes=10)   # clocks of other machines run a little behind

    def dn(common: str):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORG)])

    def usage(*, sign: bool, ca: bool):
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = dn(f"nodegraph test root CA ({name})")
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=days + 1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage(sign=False, ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(dn(cn)).issuer_name(root_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(sign=True, ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                                  ObjectIdentifier(DOCUMENT_SIGNING)]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    folder.mkdir(parents=True, exist_ok=True)
    with fsio.open_atomic(key_path) as f:
        if hasattr(os, "fchmod"):
            os.fchmod(f.fileno(), 0o600)   # before a byte of the key is written
        f.write(key_pem)
    fsio.write_bytes(cert_path, cert.public_bytes(pem))
    fsio.write_bytes(ca_path, root.public_bytes(pem))
    return load_identity(key_path, cert_path)


#: the largest key or certificate file read (a PEM chain is a few KiB)
MAX_PEM = 1 << 20


# -- loading one -----------------------------------------------------------------------------------

def _read(path: Path, what: str) -> bytes:
    from ..fsio import ReadRefused, read_regular

    try:
        return read_regular(path, MAX_PEM)
    except ReadRefused as e:
        if e.missing:
            raise CredentialsError(f"{path}: no such {what} file") from None
        raise CredentialsError(f"{path}: the {what} is {e.reason}" if e.reason.startswith("not ")
                               else f"{path}: cannot read the {what}: {e.reason}") from None


def cert_for(key_path: str | os.PathLike) -> Path:
    """The certificate beside a key: ``NAME.key.pem`` -> ``NAME.cert.pem``, else ``KEY.cert.pem``."""
    p = Path(key_path)
    if p.name.endswith(KEY_SUFFIX):
        return p.with_name(p.name[: -len(KEY_SUFFIX)] + CERT_SUFFIX)
    return p.with_name(p.name + CERT_SUFFIX)


def load_identity(key_path: str | os.PathLike, cert_path: str | os.PathLike | None = None) -> Identity:
    """Read and check a key and its certificate chain; a :class:`CredentialsError` naming the
    file says what is wrong (missing, unreadable, not PEM, a pair that does not match, a
    certificate C2PA does not accept, outside its validity period)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    key_path = Path(key_path)
    cert_path = Path(cert_path) if cert_path is not None else cert_for(key_path)
    key_pem = _read(key_path, "private key")
    chain_pem = _read(cert_path, "certificate")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise CredentialsError(f"{key_path}: the private key is encrypted; nodegraph needs an unencrypted "
                               "PEM key (keep the file private: mode 0600)") from None
    except Exception as e:
        raise CredentialsError(f"{key_path}: not a PEM private key ({_first_line(e)})") from None
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except Exception as e:
        raise CredentialsError(f"{cert_path}: not a PEM certificate chain ({_first_line(e)})") from None
    cert = certs[0]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name)
        if alg is None:
            raise CredentialsError(f"{key_path}: elliptic curve {key.curve.name} is not one C2PA signs with "
                                   "(P-256, P-384, P-521)")
    elif isinstance(key, rsa.RSAPrivateKey):
        alg = "ps256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        alg = "ed25519"
    else:
        raise CredentialsError(f"{key_path}: a {type(key).__name__} key; C2PA signs with EC, RSA or Ed25519 keys")
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, pub) != cert.public_key().public_bytes(der, pub):
        raise CredentialsError(f"{key_path} does not belong to the certificate in {cert_path} "
                               "(their public keys differ): give the key and certificate of one identity")
    _check_profile(cert, cert_path)
    return Identity(key_path=key_path, cert_path=cert_path, alg=alg, key_pem=key_pem, chain_pem=chain_pem,
                    subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                    serial=cert.serial_number, not_before=cert.not_valid_before_utc,
                    not_after=cert.not_valid_after_utc, self_made=_org(cert) == TEST_ORG)


def _org(cert) -> str | None:
    from cryptography.x509.oid import NameOID

    attrs = cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _check_profile(cert, cert_path: Path) -> None:
    """What c2pa-rs refuses at signing, said before a run starts."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

    now = datetime.datetime.now(datetime.timezone.utc)
    if now < cert.not_valid_before_utc:
        raise CredentialsError(f"{cert_path}: the certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    if now > cert.not_valid_after_utc:
        raise CredentialsError(f"{cert_path}: the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d} "
                               "(make a new one with `nodegraph keys new --force`)")
    if cert.version != x509.Version.v3:
        raise CredentialsError(f"{cert_path}: C2PA needs an X.509 v3 certificate")

    def ext(oid):
        try:
            return cert.extensions.get_extension_for_oid(oid)
        except x509.ExtensionNotFound:
            return None

    bc = ext(ExtensionOID.BASIC_CONSTRAINTS)
    if bc is not None and bc.value.ca:
        raise CredentialsError(f"{cert_path}: the signing certificate is a CA certificate; C2PA signs with an "
                               "end-entity certificate (CA:FALSE)")
    if cert.issuer == cert.subject:
        raise CredentialsError(f"{cert_path}: the signing certificate is self-signed; C2PA (c2pa-rs) needs one "
                               "issued by a CA (`nodegraph keys new` makes a pair)")
    ku = ext(ExtensionOID.KEY_USAGE)
    if ku is None or not ku.value.digital_signature:
        raise CredentialsError(f"{cert_path}: the certificate's key usage lacks digitalSignature, which C2PA needs")
    eku = ext(ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is None or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku.value:
        raise CredentialsError(f"{cert_path}: C2PA needs an extended key usage such as emailProtection or "
                               "documentSigning (and not anyExtendedKeyUsage)")


def signer_from(key: str | os.PathLike | None = None, cert: str | os.PathLike | None = None, *,
                required: bool = True) -> Identity | None:
    """The identity a run signs with: ``key`` (its certificate ``cert``, else the one beside it),
    else ``$NODEGRAPH_SIGN_KEY`` (``$NODEGRAPH_SIGN_CERT``), else the ``default`` identity that
    ``nodegraph keys new`` makes. With ``required=False`` it returns None when none is configured
    (no argument, no variable, no default identity); a key that is named but bad is always an error."""
    if key is None and os.environ.get(ENV_SIGN_KEY):
        key = os.environ[ENV_SIGN_KEY]
        cert = cert if cert is not None else (os.environ.get(ENV_SIGN_CERT) or None)
    if key is None:
        key_path, cert_path, _ = identity_paths(keys_dir(), DEFAULT_NAME)
        if not key_path.exists():
            if not required:
                return None
            raise CredentialsError(f"no signing key: {key_path} does not exist. Make a test identity with "
                                   f"`nodegraph keys new`, or name your key (--sign KEY.pem or ${ENV_SIGN_KEY})")
        return load_identity(key_path, cert if cert is not None else cert_path)
    return load_identity(Path(key).expanduser(), Path(cert).expanduser() if cert is not None else None)
