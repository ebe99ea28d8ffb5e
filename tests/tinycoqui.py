"""Tiny random-weight XTTS-v2 and OpenVoice models, built at test time in the layouts their
releases use (never downloaded), for the voice cloning tests.

XTTS-v2 (the ``coqui/XTTS-v2`` layout): a folder with ``config.json`` (an ``XttsConfig``),
``vocab.json`` (a Hugging Face tokenizers BPE with XTTS's special tokens), ``model.pth`` and
``speakers_xtts.pth``. The release's ``model.pth`` pickles the ``XttsConfig`` object itself next to
the state dict, under the classes' old module path; ``build_xtts(legacy=True)`` writes it that way.

OpenVoice (the ``myshell-ai/OpenVoiceV2`` ``converter/`` layout): ``checkpoint.pth``
(``{"model": state_dict}``) and ``config.json`` with the upstream ``data`` and ``model`` sections.

Everything is made small (two GPT layers of 64 channels, a tiny HiFi-GAN, a 32-channel converter)
so a test run loads and speaks in about a second; the architecture is the real one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

XTTS_LANGUAGES = ["en", "fr", "es"]
SPECIAL = ["[STOP]", "[UNK]", "[SPACE]", "[START]"] + [f"[{code}]" for code in XTTS_LANGUAGES]
# a few hundred words of text to train the tiny BPE on (letters, digits spelled out, punctuation)
CORPUS = """hello world this is a small voice test. the quick brown fox jumps over the lazy dog!
bonjour le monde, ceci est un petit essai de voix. hola mundo, esta es una prueba de voz?
one two three four five six seven eight nine ten. she sells sea shells by the sea shore.
a b c d e f g h i j k l m n o p q r s t u v w x y z . , ! ? ' - : ; é è à ç ñ ü ö
"""


@dataclass
class Tiny:
    xtts: Path          # an XTTS-v2 release folder (legacy model.pth, as the real one)
    xtts_plain: Path    # the same model saved as {"model": state_dict, "config": dict} (coqui's newer files)
    openvoice: Path     # an OpenVoice converter folder
    openvoice_other: Path   # another random converter (other weights, same architecture)


def write_vocab(path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=SPECIAL, show_progress=False)
    lines = [line.replace(" ", "[SPACE]") for line in CORPUS.lower().splitlines()]
    tok.train_from_iterator(lines, trainer)
    tok.save(str(path))


def xtts_config(vocab: Path):
    from TTS.tts.configs.xtts_config import XttsArgs, XttsAudioConfig, XttsConfig

    args = XttsArgs(gpt_layers=2, gpt_n_model_channels=64, gpt_n_heads=2, decoder_input_dim=64,
                    gpt_use_perceiver_resampler=True, gpt_max_audio_tokens=20, gpt_max_text_tokens=402,
                    gpt_num_audio_tokens=258, gpt_start_audio_token=256, gpt_stop_audio_token=257,
                    tokenizer_file=str(vocab))
    cfg = XttsConfig(model_args=args, audio=XttsAudioConfig(), languages=list(XTTS_LANGUAGES))
    cfg.temperature, cfg.top_k = 0.75, 50
    return cfg


def build_xtts(folder: Path, seed: int = 0, legacy: bool = True) -> Path:
    """An XTTS-v2 folder with random weights; ``legacy``: model.pth as the release writes it."""
    import torch
    from TTS.tts.configs.xtts_config import XttsAudioConfig, XttsArgs
    from TTS.tts.models.xtts import Xtts

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.json"
    write_vocab(vocab)
    cfg = xtts_config(vocab)
    cfg.model_args.tokenizer_file = ""           # the release leaves it empty: vocab.json is found in the folder
    torch.manual_seed(seed)
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer

    model = Xtts(cfg)
    model.tokenizer = VoiceBpeTokenizer(str(vocab))
    model.init_models()
    with torch.no_grad():                        # a mel normaliser of the right size, as the release has
        model.mel_stats.copy_(torch.rand(80) * 2 + 1)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("gpt.gpt_inference")}
    cfg.save_json(str(folder / "config.json"))
    if legacy:
        # the release pickles the config object under TTS.tts.models.xtts (the classes' old home)
        old = {c: c.__module__ for c in (XttsAudioConfig, XttsArgs)}
        try:
            for c in old:
                c.__module__ = "TTS.tts.models.xtts"
            torch.save({"config": cfg, "model": state}, folder / "model.pth")
        finally:
            for c, m in old.items():
                c.__module__ = m
    else:
        torch.save({"config": cfg.to_dict(), "model": state}, folder / "model.pth")
    # one built-in speaker, as the release's speakers_xtts.pth (latents + embedding per name)
    with torch.no_grad():
        g = torch.randn(1, 32, 64)
        s = torch.randn(1, 512, 1)
    torch.save({"Ana Florence": {"gpt_cond_latent": g, "speaker_embedding": s}}, folder / "speakers_xtts.pth")
    return folder


OPENVOICE_CONFIG = {
    "_version_": "v2",
    "data": {"sampling_rate": 22050, "filter_length": 256, "hop_length": 64, "win_length": 256, "n_speakers": 0},
    "model": {"zero_g": True, "inter_channels": 32, "hidden_channels": 32, "filter_channels": 64, "n_heads": 2,
              "n_layers": 2, "kernel_size": 3, "p_dropout": 0.1, "resblock": "1", "resblock_kernel_sizes": [3],
              "resblock_dilation_sizes": [[1, 3, 5]], "upsample_rates": [4, 4, 4], "upsample_initial_channel": 64,
              "upsample_kernel_sizes": [8, 8, 8], "gin_channels": 64},
}


def build_openvoice(folder: Path, seed: int = 0) -> Path:
    """An OpenVoice converter folder with random weights (``checkpoint.pth`` + upstream ``config.json``)."""
    import torch
    from TTS.vc.configs.openvoice_config import OpenVoiceArgs, OpenVoiceAudioConfig, OpenVoiceConfig
    from TTS.vc.models.openvoice import OpenVoice

    folder.mkdir(parents=True, exist_ok=True)
    data, arch = OPENVOICE_CONFIG["data"], OPENVOICE_CONFIG["model"]
    audio = OpenVoiceAudioConfig(input_sample_rate=data["sampling_rate"], output_sample_rate=data["sampling_rate"],
                                 fft_size=data["filter_length"], hop_length=data["hop_length"],
                                 win_length=data["win_length"])
    torch.manual_seed(seed)
    model = OpenVoice(OpenVoiceConfig(model_args=OpenVoiceArgs(**arch), audio=audio))
    with torch.no_grad():    # the flows' last layers start at zero (identity flows): give them weights too
        for name, p in model.named_parameters():
            if name.startswith("flow.") and ".post." in name:
                p.normal_(0.0, 0.1)
    torch.save({"model": model.state_dict()}, folder / "checkpoint.pth")
    (folder / "config.json").write_text(json.dumps(OPENVOICE_CONFIG, indent=2))
    return folder


def build_all(root: Path) -> Tiny:
    from nodes import _coqui

    _coqui.import_tts()     # coqui-tts with the torchaudio guard in place (see nodes/_coqui.py)
    return Tiny(xtts=build_xtts(root / "tts" / "xtts_v2"),
                xtts_plain=build_xtts(root / "tts" / "xtts_plain", legacy=False),
                openvoice=build_openvoice(root / "openvoice" / "converter"),
                openvoice_other=build_openvoice(root / "openvoice2" / "converter", seed=1))
