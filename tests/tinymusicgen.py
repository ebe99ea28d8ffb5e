"""Tiny random-weight MusicGen folders, built at test time (transformers 5.x).

Nothing is downloaded and nothing is committed: the weights come from a fixed torch seed (the
caller's RNG state is left alone), so two builds give identical bytes. Each folder is about 1 MB
and builds in well under a second after the imports.

* ``musicgen``: ``MusicgenForConditionalGeneration`` (2-layer T5 text encoder with a Unigram
  vocabulary made here, EnCodec at 32 kHz with 50 frames/s and 4 codebooks of 64 codes, a
  2-layer decoder) plus its ``MusicgenProcessor``. Its generation window is tiny
  (``generation_config.max_length = WINDOW`` tokens, about 0.9 s of audio), so a few seconds of
  music need several windows and the continuation code runs.
* ``melody``: the same parts in ``MusicgenMelodyForConditionalGeneration`` (12-bin chroma
  conditioning). Its processor needs torchaudio, which is not installed, so the folder holds
  the tokenizer files and a hand-written ``preprocessor_config.json`` of the chroma extractor.
* ``stereo``: a 2-channel MusicGen (8 codebooks, interleaved left/right).

Load calls that work with these files::

    proc = AutoProcessor.from_pretrained(folder)                 # musicgen / stereo
    model = MusicgenForConditionalGeneration.from_pretrained(folder)
    audio = model.generate(**proc(text=["calm piano"], padding=True, return_tensors="pt"),
                           max_new_tokens=50 + 3)                # (1, 1, 32000): 1 s
    MusicgenMelodyForConditionalGeneration.from_pretrained(melody_folder)
    AutoTokenizer.from_pretrained(melody_folder)
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SEED = 4321
RATE = 32000
FRAME_RATE = 50            # 32000 / (8 * 5 * 4 * 4)
CODEBOOK = 64
WINDOW = 50                # decoder tokens per generate call: 50 - 4 = 46 frames (0.92 s) without a prompt

_WORDS = ("calm", "piano", "jazz", "drums", "guitar", "happy", "sad", "music", "beat", "ambient", "rock")


@dataclass(frozen=True)
class TinyMusicgen:
    musicgen: Path
    melody: Path
    stereo: Path


@contextlib.contextmanager
def _seeded(offset: int) -> Iterator[None]:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED + offset)
        yield


def _tokenizer():
    from transformers import T5Tokenizer

    chars = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789.,-'"))
    vocab = ([("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
             + [("▁" + w, -3.0) for w in _WORDS] + [(c, -5.0) for c in chars])
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _parts(tok, channels: int = 1):
    from transformers import EncodecConfig, T5Config

    te = T5Config(vocab_size=len(tok), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, pad_token_id=0,
                  eos_token_id=1, decoder_start_token_id=0)
    ae = EncodecConfig(sampling_rate=RATE, upsampling_ratios=[8, 5, 4, 4], hidden_size=16, num_filters=4,
                       num_lstm_layers=1, codebook_size=CODEBOOK, target_bandwidths=[1.2], audio_channels=1)
    dec = dict(vocab_size=CODEBOOK, max_position_embeddings=256, num_hidden_layers=2, ffn_dim=64,
               num_attention_heads=4, hidden_size=32, num_codebooks=4 * channels, pad_token_id=CODEBOOK,
               bos_token_id=CODEBOOK, audio_channels=channels)
    return te, ae, dec


def _codec(model) -> None:
    """Make the random EnCodec's sound depend on the codes. Its codebooks start as zeros (training
    fills them by k-means), which decodes every code to the same sound, and its random biases
    alone make a loud fixed waveform: give each code its own random vector, zero the decoder's
    conv biases, and scale the last conv so the music is about 0.1 RMS."""
    import torch

    with torch.no_grad():
        for layer in model.audio_encoder.quantizer.layers:
            cb = layer.codebook
            cb.embed.copy_(torch.randn_like(cb.embed) * 10.0)
            cb.embed_avg.copy_(cb.embed)
            cb.cluster_size.fill_(1.0)
        for name, p in model.audio_encoder.decoder.named_parameters():
            if name.endswith(".bias"):
                p.zero_()
        gains = [p for name, p in model.audio_encoder.decoder.named_parameters()
                 if name.endswith(("weight.original0", ".weight"))]   # weight norm: original0 is the gain
        gains[-1].mul_(12.0)


def _sharpen(model) -> None:
    """Random init (std 0.02) leaves the decoder nearly indifferent to its conditioning: the same
    seed draws the same codes whatever the text or melody. Three times larger weights make the
    conditioning matter while sampling stays random."""
    import torch

    with torch.no_grad():
        for name, p in model.decoder.named_parameters():
            if "embed_positions" not in name and "layer_norm" not in name:
                p.mul_(3.0)
        proj = getattr(model, "audio_enc_to_dec_proj", None)
        if proj is not None:
            proj.weight.mul_(3.0)


def _generation_config():
    from transformers import GenerationConfig

    return GenerationConfig(decoder_start_token_id=CODEBOOK, pad_token_id=CODEBOOK, bos_token_id=CODEBOOK,
                            do_sample=True, guidance_scale=3.0, max_length=WINDOW)


def build_musicgen(folder: Path, channels: int = 1, offset: int = 0) -> Path:
    from transformers import (EncodecFeatureExtractor, MusicgenConfig, MusicgenDecoderConfig,
                              MusicgenForConditionalGeneration, MusicgenProcessor)

    tok = _tokenizer()
    te, ae, dec = _parts(tok, channels)
    with _seeded(offset):
        model = MusicgenForConditionalGeneration(
            MusicgenConfig(text_encoder=te, audio_encoder=ae, decoder=MusicgenDecoderConfig(**dec)))
        _codec(model)
        _sharpen(model)
    model.generation_config = _generation_config()
    folder.mkdir(parents=True, exist_ok=True)
    fe = EncodecFeatureExtractor(feature_size=channels, sampling_rate=RATE)
    MusicgenProcessor(feature_extractor=fe, tokenizer=tok).save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def build_melody(folder: Path, offset: int = 1) -> Path:
    from transformers import (MusicgenMelodyConfig, MusicgenMelodyDecoderConfig,
                              MusicgenMelodyForConditionalGeneration)

    tok = _tokenizer()
    te, ae, dec = _parts(tok)
    with _seeded(offset):
        model = MusicgenMelodyForConditionalGeneration(
            MusicgenMelodyConfig(text_encoder=te, audio_encoder=ae, decoder=MusicgenMelodyDecoderConfig(**dec),
                                 num_chroma=12, chroma_length=235))
        _codec(model)
        _sharpen(model)
    model.generation_config = _generation_config()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    # what MusicgenMelodyFeatureExtractor saves (it cannot be made here: it needs torchaudio)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "feature_extractor_type": "MusicgenMelodyFeatureExtractor", "feature_size": 12, "sampling_rate": RATE,
        "hop_length": 4096, "chunk_length": 30, "n_fft": 16384, "num_chroma": 12, "padding_value": 0.0,
        "padding_side": "right", "return_attention_mask": False, "stem_indices": [3, 2],
        "processor_class": "MusicgenMelodyProcessor"}, indent=2))
    return folder


def build_all(root: Path) -> TinyMusicgen:
    root = Path(root)
    return TinyMusicgen(musicgen=build_musicgen(root / "tiny-musicgen"), melody=build_melody(root / "tiny-melody"),
                        stereo=build_musicgen(root / "tiny-musicgen-stereo", channels=2, offset=2))
