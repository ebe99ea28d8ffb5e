"""A random Wav2Lip generator saved as the release files are, built at test time (tests and the
audio benchmark). Nothing is downloaded or committed."""
from __future__ import annotations

from pathlib import Path


def calibrated_generator() -> dict:
    """A random generator whose BatchNorm statistics are measured on random input (so the face
    and the sound both reach the output, as in a trained one); the caller's RNG is left alone."""
    import torch

    from nodes import _wav2lip as w2l

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = w2l.Wav2Lip()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
        model.train()
        with torch.no_grad():
            model(torch.randn(6, 1, 80, 16) * 2, torch.rand(6, 6, 96, 96))
    return model.eval().state_dict()


def save_release_checkpoint(state: dict, path: Path) -> Path:
    """Saved as the Wav2Lip release files are: ``module.``-prefixed names in a training checkpoint."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "global_step": 1,
                "global_epoch": 0, "optimizer": None}, path)
    return path
