"""``nodegraph keys ...``: make a test signing identity for content credentials (C2PA), list
them, show the one runs sign with. Thin: the work is in ``nodegraph.credentials``."""
from __future__ import annotations

import argparse
from pathlib import Path


def cmd_new(args: argparse.Namespace) -> int:
    from .credentials import new_identity

    ident = new_identity(args.dir, args.name, force=args.force, common_name=args.subject)
    print(f"made signing identity {args.name!r}:")
    print(ident.describe())
    print(f"root CA:     {ident.cert_path.with_name(args.name + '.ca.pem')} (give it to readers that should trust "
          "this identity)")
    print("This key is for TESTING: it is self-made, so C2PA readers (c2patool, contentcredentials.org) show files "
          "signed with it as signed by an untrusted signer. For published work use a certificate from a CA.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .credentials import CredentialsError, keys_dir, load_identity, signer_from
    from .credentials.identity import CERT_SUFFIX, KEY_SUFFIX

    folder = Path(args.dir) if args.dir else keys_dir()
    try:
        in_use = signer_from(required=False)
        in_use_err = None
    except CredentialsError as e:
        in_use, in_use_err = None, str(e)
    keys = sorted(folder.glob("*" + KEY_SUFFIX)) if folder.is_dir() else []
    if not keys:
        print(f"no signing identities in {folder} (make one with `nodegraph keys new`)")
    for key in keys:
        name = key.name[: -len(KEY_SUFFIX)]
        mark = "*" if in_use is not None and in_use.key_path.resolve() == key.resolve() else " "
        try:
            ident = load_identity(key, key.with_name(name + CERT_SUFFIX))
            test = " (test identity)" if ident.self_made else ""
            print(f"{mark} {name:16} {ident.subject}  valid to {ident.not_after:%Y-%m-%d}{test}")
        except CredentialsError as e:
            print(f"{mark} {name:16} unusable: {e}")
    if in_use is not None:
        print(f"runs sign with: {in_use.key_path}")
    elif in_use_err:
        print(f"runs cannot sign: {in_use_err}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .credentials import signer_from

    ident = signer_from(args.key, args.cert)
    print(ident.describe())
    return 0


def add_cli(sub) -> None:
    k = sub.add_parser("keys", help="signing identities for content credentials (C2PA) in outputs")
    ks = k.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    n = ks.add_parser("new", help="make a self-signed TEST identity (a root CA and a signing certificate)",
                      description="Make a test signing identity: NAME.key.pem (private, mode 0600), NAME.cert.pem "
                                  "(the signing certificate) and NAME.ca.pem (its root CA). C2PA readers show what "
                                  "it signs as signed by an untrusted signer.")
    n.add_argument("--dir", metavar="DIR", help="where to write it (default: the keys folder in nodegraph's config "
                                                "folder, $NODEGRAPH_CONFIG_DIR/keys)")
    n.add_argument("--name", default="default", help="identity name, the files' stem (default: default, the one runs "
                                                      "use unless told otherwise)")
    n.add_argument("--subject", metavar="TEXT", help="the certificate's common name, shown by readers as the signer "
                                                     "(default: 'nodegraph test signer (NAME)')")
    n.add_argument("--force", action="store_true", help="replace an existing identity of that name")
    n.set_defaults(fn=cmd_new)

    li = ks.add_parser("list", help="the identities in the keys folder; * marks the one runs sign with")
    li.add_argument("--dir", metavar="DIR", help="another folder to list")
    li.set_defaults(fn=cmd_list)

    sh = ks.add_parser("show", help="the identity runs sign with ($NODEGRAPH_SIGN_KEY, else the default one), checked")
    sh.add_argument("key", nargs="?", metavar="KEY.pem", help="show and check this key instead")
    sh.add_argument("--cert", metavar="CERT.pem", help="its certificate chain (default: NAME.cert.pem beside "
                                                       "NAME.key.pem)")
    sh.set_defaults(fn=cmd_show)


def add_sign_args(parser: argparse.ArgumentParser) -> None:
    """``--sign [KEY.pem]`` and ``--sign-cert CERT.pem`` for a command that writes outputs
    (``nodegraph run``); :func:`signer_for_args` turns them into the identity to sign with."""
    parser.add_argument("--sign", nargs="?", const="", metavar="KEY.pem",
                        help="give every output signed C2PA content credentials, with KEY.pem (default: "
                             "$NODEGRAPH_SIGN_KEY, else the identity `nodegraph keys new` made); setting "
                             "$NODEGRAPH_SIGN_KEY alone also turns signing on")
    parser.add_argument("--sign-cert", metavar="CERT.pem",
                        help="the certificate chain of the --sign key (default: NAME.cert.pem beside NAME.key.pem)")


def signer_for_args(args: argparse.Namespace):
    """The identity a run signs with, checked (call it before the run starts), or None when the run
    is not to sign: no ``--sign`` and no ``$NODEGRAPH_SIGN_KEY``."""
    import os

    from .credentials import ENV_SIGN_KEY, signer_from

    key = getattr(args, "sign", None)
    cert = getattr(args, "sign_cert", None)
    if key is None:
        if not os.environ.get(ENV_SIGN_KEY):
            if cert:
                from .credentials import CredentialsError

                raise CredentialsError(f"--sign-cert {cert} was given without --sign")
            return None
        return signer_from(None, cert)
    return signer_from(key or None, cert)
