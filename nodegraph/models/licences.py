"""Model licences: which licence a model is under, and whether it may be used commercially.

Every model family the model manager knows (:data:`FAMILIES`) carries its licence id
(:data:`LICENCES`, SPDX ids where one exists, the model card's ``license`` otherwise). A model
reference is identified by, in order of authority:

1. the licence recorded for it in the model registry (``nodegraph models add ... --licence ID``);
2. its model card: the ``license:`` (and ``license_name:``) of the YAML front matter of the
   ``README.md`` in its folder, as on the Hugging Face hub;
3. the exact Hugging Face repo id it names or was found under (``facebook/musicgen-small``);
4. its name, kind or folder contents (``xtts_v2``, any ``wav2lip`` checkpoint, an XTTS
   ``config.json``).

Only 1 to 3 are *authoritative*. A guess from a name, a kind or an architecture is used only when
it is restrictive: a folder called ``xtts_v2`` is under the Coqui Public Model Licence whoever
fine-tuned it (the licence passes to derivatives), but a file that merely looks like Stable
Diffusion 1.5 may be a fine-tune whose maker chose other terms, so it is reported as *unknown*,
with what it looks like. Unknown is never shown as allowed: ``commercial`` is ``"unknown"`` and
``nodegraph run --commercial`` refuses it.

``commercial`` is one of ``"yes"``, ``"no"``, ``"conditional"`` (allowed under conditions the
user must meet, said in ``conditions``) and ``"unknown"``.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

COMMERCIAL = ("yes", "no", "conditional", "unknown")


@dataclass(frozen=True)
class Licence:
    id: str
    name: str
    commercial: str  # one of COMMERCIAL
    url: str = ""
    conditions: str = ""

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v}


_RAIL = ("use-based restrictions (the licence's Attachment A) bind you and everyone you pass the "
         "model or its outputs' use to; keep the licence with the model")
LICENCES: dict[str, Licence] = {lic.id: lic for lic in (
    Licence("apache-2.0", "Apache License 2.0", "yes", "https://www.apache.org/licenses/LICENSE-2.0"),
    Licence("mit", "MIT License", "yes", "https://opensource.org/license/mit"),
    Licence("bsd-3-clause", "BSD 3-Clause License", "yes", "https://opensource.org/license/bsd-3-clause"),
    Licence("cc0-1.0", "Creative Commons Zero 1.0", "yes", "https://creativecommons.org/publicdomain/zero/1.0/"),
    Licence("cc-by-4.0", "Creative Commons Attribution 4.0", "yes", "https://creativecommons.org/licenses/by/4.0/",
            "credit the model's authors"),
    Licence("cc-by-sa-4.0", "Creative Commons Attribution-ShareAlike 4.0", "yes",
            "https://creativecommons.org/licenses/by-sa/4.0/", "credit the authors; share adaptations alike"),
    Licence("gpl-3.0-or-later", "GNU General Public License v3.0 or later", "yes",
            "https://www.gnu.org/licenses/gpl-3.0.html"),
    Licence("creativeml-openrail-m", "CreativeML Open RAIL-M", "yes",
            "https://huggingface.co/spaces/CompVis/stable-diffusion-license", _RAIL),
    Licence("openrail++", "CreativeML Open RAIL++-M", "yes",
            "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/blob/main/LICENSE.md", _RAIL),
    Licence("openrail", "Open RAIL", "yes", "https://www.licenses.ai/", _RAIL),
    Licence("stabilityai-community", "Stability AI Community License", "conditional",
            "https://stability.ai/community-license-agreement",
            "free for organisations with under USD 1M annual revenue; above that an enterprise licence is needed"),
    Licence("cc-by-nc-4.0", "Creative Commons Attribution-NonCommercial 4.0", "no",
            "https://creativecommons.org/licenses/by-nc/4.0/"),
    Licence("cc-by-nc-sa-4.0", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0", "no",
            "https://creativecommons.org/licenses/by-nc-sa/4.0/"),
    Licence("cc-by-nc-nd-4.0", "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0", "no",
            "https://creativecommons.org/licenses/by-nc-nd/4.0/"),
    Licence("cpml", "Coqui Public Model License 1.0.0", "no", "https://coqui.ai/cpml",
            "non-commercial use only; applies to outputs and to fine-tunes"),
    Licence("wav2lip-research", "Wav2Lip licence (research and personal use only)", "no",
            "https://github.com/Rudrabha/Wav2Lip#license-and-citation",
            "research, academic and personal use only; commercial use needs a licence from Sync Labs"),
    Licence("flux-1-dev-non-commercial", "FLUX.1 [dev] Non-Commercial License", "no",
            "https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md",
            "outputs may be used commercially, the model may not"),
    Licence("unknown", "unknown licence", "unknown", "",
            "nodegraph cannot tell this model's licence; read its model card and record it with "
            "`nodegraph models add PATH --kind KIND --licence ID`"),
)}
UNKNOWN = LICENCES["unknown"]

#: model card ``license`` / ``license_name`` values that name one of the licences above
_ALIASES = {
    "coqui-public-model-license": "cpml", "cpml-1.0": "cpml", "coqui-public-model-license-1.0.0": "cpml",
    "openrail++-m": "openrail++", "creativeml-openrail++-m": "openrail++", "gpl-3.0": "gpl-3.0-or-later",
    "gpl-3.0+": "gpl-3.0-or-later", "flux-1-dev-non-commercial-license": "flux-1-dev-non-commercial",
    "stabilityai-ai-community": "stabilityai-community", "stabilityai-community-license": "stabilityai-community",
}


def licence(ident: str | None) -> Licence:
    """The licence with this id (a model card's spelling or an alias), or an ``unknown`` one that
    keeps the id it was given (so ``other`` or a typo is shown, never treated as allowed)."""
    key = (ident or "").strip().lower()
    key = _ALIASES.get(key, key)
    if key in LICENCES:
        return LICENCES[key]
    if not key:
        return UNKNOWN
    return Licence(key, f"{ident} (not a licence nodegraph knows)", "unknown", "",
                   "nodegraph does not know whether this licence allows commercial use; read it")


@dataclass(frozen=True)
class Family:
    """A model family the model manager knows: how to recognise its weights and their licence."""

    id: str
    title: str
    licence: str
    kinds: tuple[str, ...] = ()
    repos: tuple[str, ...] = ()  # hub repo ids (fnmatch patterns, case-insensitive): authoritative
    names: tuple[str, ...] = ()  # regexes on the reference's last part: a guess (used when restrictive)
    any_of_kind: bool = False  # every model of these kinds belongs to the family (a guess)
    source: str = ""  # where the official weights are

    @property
    def restrictive(self) -> bool:
        return LICENCES[self.licence].commercial == "no"


FAMILIES: tuple[Family, ...] = (
    Family("xtts-v2", "Coqui XTTS-v2", "cpml", ("audio",), ("coqui/XTTS-v2", "coqui/XTTS-*"), (r"xtts",),
           source="coqui/XTTS-v2"),
    Family("openvoice-v2", "OpenVoice V2", "mit", ("audio",), ("myshell-ai/OpenVoiceV2", "myshell-ai/OpenVoice"),
           source="myshell-ai/OpenVoiceV2"),
    Family("wav2lip", "Wav2Lip", "wav2lip-research", ("wav2lip",), ("Rudrabha/Wav2Lip*",), (r"wav2lip",),
           any_of_kind=True, source="https://github.com/Rudrabha/Wav2Lip"),
    Family("musicgen", "MusicGen (Meta AudioCraft)", "cc-by-nc-4.0", ("audio",), ("facebook/musicgen-*",),
           (r"musicgen",), source="facebook/musicgen-small"),
    Family("whisper", "Whisper", "mit", ("audio",), ("openai/whisper-*", "distil-whisper/*"),
           source="openai/whisper-small"),
    Family("opus-mt", "OPUS-MT (Marian translation)", "cc-by-4.0", ("audio",),
           ("Helsinki-NLP/opus-mt-*",), source="Helsinki-NLP/opus-mt-en-fr"),
    Family("sd15", "Stable Diffusion 1.5", "creativeml-openrail-m", ("checkpoints", "diffusers"),
           ("stable-diffusion-v1-5/stable-diffusion-v1-5", "runwayml/stable-diffusion-v1-5",
            "CompVis/stable-diffusion-v1-*", "stable-diffusion-v1-5/*"), source="stable-diffusion-v1-5/stable-diffusion-v1-5"),
    Family("sdxl", "Stable Diffusion XL", "openrail++", ("checkpoints", "diffusers"),
           ("stabilityai/stable-diffusion-xl-*", "stabilityai/sdxl-turbo"), source="stabilityai/stable-diffusion-xl-base-1.0"),
    Family("sd35", "Stable Diffusion 3.5", "stabilityai-community", ("checkpoints", "diffusers"),
           ("stabilityai/stable-diffusion-3.5-*",), source="stabilityai/stable-diffusion-3.5-medium"),
    Family("flux-schnell", "FLUX.1 [schnell]", "apache-2.0", ("checkpoints", "diffusers"),
           ("black-forest-labs/FLUX.1-schnell",), source="black-forest-labs/FLUX.1-schnell"),
    Family("flux-dev", "FLUX.1 [dev]", "flux-1-dev-non-commercial", ("checkpoints", "diffusers"),
           ("black-forest-labs/FLUX.1-dev",), (r"flux[._-]?1?[._-]?dev",), source="black-forest-labs/FLUX.1-dev"),
    Family("wan", "Wan 2.1 / 2.2", "apache-2.0", ("checkpoints", "diffusers"), ("Wan-AI/*",), source="Wan-AI/Wan2.1-T2V-1.3B-Diffusers"),
    Family("ip-adapter", "IP-Adapter", "apache-2.0", ("ip_adapter", "clip_vision"), ("h94/IP-Adapter*",),
           source="h94/IP-Adapter"),
    Family("kokoro", "Kokoro-82M", "apache-2.0", ("audio",), ("hexgrad/Kokoro-82M",), source="hexgrad/Kokoro-82M"),
)
_BY_ID = {f.id: f for f in FAMILIES}


def family(ident: str) -> Family | None:
    return _BY_ID.get(ident)


@dataclass
class LicenceInfo:
    """What is known of one model's licence, and how it was found out."""

    licence: Licence
    family: str = ""  # a Family id, or ""
    how: str = ""  # "registry", "model card", "repo id", "name", "kind", "config" or "" (unknown)
    looks_like: str = ""  # for an unknown licence: the family the model resembles, if any
    note: str = ""

    @property
    def commercial(self) -> str:
        return self.licence.commercial

    def to_json(self) -> dict:
        d = {"id": self.licence.id, "name": self.licence.name, "commercial": self.commercial}
        for k in ("family", "how", "looks_like", "note"):
            if getattr(self, k):
                d[k] = getattr(self, k)
        if self.licence.conditions:
            d["conditions"] = self.licence.conditions
        if self.licence.url:
            d["url"] = self.licence.url
        return d

    def line(self) -> str:
        """``CC-BY-NC-4.0 (non-commercial)`` and the like, for people."""
        what = {"yes": "commercial use allowed", "no": "non-commercial", "conditional": "commercial use under conditions",
                "unknown": "licence unknown"}[self.commercial]
        head = self.licence.name if self.licence.id != "unknown" else "unknown licence"
        if self.looks_like:
            head += f"; looks like {self.looks_like}"
        return f"{head} ({what})"


def _match_repo(repo_id: str) -> Family | None:
    low = repo_id.lower()
    for fam in FAMILIES:
        if any(fnmatch.fnmatchcase(low, pat.lower()) for pat in fam.repos):
            return fam
    return None


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)


def model_card_licence(folder: str | os.PathLike) -> str | None:
    """The ``license`` of a model card (``README.md`` YAML front matter) in ``folder``, taking
    ``license_name`` when the licence is ``other``; None when there is no card or no licence.
    Read as text, at most 64 KiB; never executed."""
    card = Path(folder) / "README.md"
    try:
        if not card.is_file() or card.is_symlink() and not card.resolve().is_file():
            return None
        with open(card, "rb") as f:
            text = f.read(65536).decode("utf-8", "replace")
    except OSError:
        return None
    m = _FRONT.match(text.replace("\r\n", "\n"))
    if not m:
        return None
    fields: dict[str, str] = {}
    for line in m.group(1).split("\n"):
        k, sep, v = line.partition(":")
        if sep and k.strip() in ("license", "license_name") and not line.startswith((" ", "\t")):
            fields[k.strip()] = v.strip().strip("'\"")
    lic = fields.get("license")
    if lic and lic.lower() == "other" and fields.get("license_name"):
        return fields["license_name"]
    return lic or None


def _config_family(path: Path) -> Family | None:
    """A family told by a folder's ``config.json`` (XTTS writes ``"model": "xtts"``)."""
    cfg = path / "config.json" if path.is_dir() else None
    if cfg is None or not cfg.is_file():
        return None
    try:
        if cfg.stat().st_size > 4 * 1024 * 1024:
            return None
        data = json.loads(cfg.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    model = str(data.get("model") or "").lower()
    arch = " ".join(str(a) for a in data.get("architectures") or [] if isinstance(a, str)).lower()
    mtype = str(data.get("model_type") or "").lower()
    if model == "xtts":
        return _BY_ID["xtts-v2"]
    if "musicgen" in arch or mtype.startswith("musicgen"):
        return _BY_ID["musicgen"]
    return None


def identify(ref: str, kind: str, *, path: str | os.PathLike | None = None, repo_id: str | None = None,
             recorded: str | None = None) -> LicenceInfo:
    """The licence of the model ``ref`` (of ``kind``): ``path`` where it was found locally (if it
    was), ``repo_id`` the hub repo it names or came from, ``recorded`` the licence id recorded in
    the model registry. See the module docs for the order and what counts as authoritative."""
    if recorded:
        lic = licence(recorded)
        fam = _match_repo(repo_id) if repo_id else None
        return LicenceInfo(lic, fam.id if fam else "", "registry")
    p = Path(path) if path is not None else None
    if p is not None:
        card_dir = p if p.is_dir() else p.parent
        card = model_card_licence(card_dir) if (p.is_dir() or repo_id) else None
        if card:
            fam = _match_repo(repo_id) if repo_id else None
            return LicenceInfo(licence(card), fam.id if fam else "", "model card")
    if repo_id:
        fam = _match_repo(repo_id)
        if fam is not None:
            return LicenceInfo(LICENCES[fam.licence], fam.id, "repo id")
    guess = _guess(ref, kind, p)
    if guess is not None:
        fam, how = guess
        if fam.restrictive:
            return LicenceInfo(LICENCES[fam.licence], fam.id, how,
                               note=f"recognised by its {how}; {fam.title} weights and their fine-tunes are under "
                                    f"{LICENCES[fam.licence].name}")
        return LicenceInfo(UNKNOWN, "", "", looks_like=f"{fam.title} ({LICENCES[fam.licence].name})",
                           note="a fine-tune's licence is its maker's: check the model card, then record it with "
                                "`nodegraph models add PATH --kind KIND --licence ID`")
    return LicenceInfo(UNKNOWN)


def _guess(ref: str, kind: str, path: Path | None) -> tuple[Family, str] | None:
    if path is not None:
        fam = _config_family(path)
        if fam is not None:
            return fam, "config"
    last = re.split(r"[\\/]", ref.rstrip("/\\"))[-1].lower() if ref else ""
    names = [last] + ([path.name.lower()] if path is not None else [])
    for fam in FAMILIES:
        if any(re.search(rx, n) for rx in fam.names for n in names if n):
            return fam, "name"
    for fam in FAMILIES:
        if fam.any_of_kind and kind in fam.kinds:
            return fam, "kind"
    # a hub-like reference (org/name) the table does not know: the repo's owner is no licence
    return None


def summary(infos: list[LicenceInfo]) -> str:
    """``commercial use: no (cpml, wav2lip-research)`` and the like: the strictest verdict first."""
    if not infos:
        return "commercial use: yes (no models)"
    for verdict in ("no", "unknown", "conditional", "yes"):
        ids = sorted({i.licence.id for i in infos if i.commercial == verdict})
        if ids:
            return f"commercial use: {verdict} ({', '.join(ids)})"
    return "commercial use: unknown"


__all__ = ["COMMERCIAL", "Licence", "LICENCES", "UNKNOWN", "Family", "FAMILIES", "LicenceInfo", "licence", "family",
           "identify", "model_card_licence", "summary"]
