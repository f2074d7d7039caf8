"""What a documentation block may assume exists (``<!-- test: HOST setup=NAME -->``): each function returns the
names the block uses without defining them, built small and offline (nothing is downloaded)."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def hf():
    """``model`` (a tiny ``Wav2Vec2ForPreTraining``, the example's config) and ``waveforms`` (two 1-s signals)."""
    import numpy as np
    import torch
    from transformers import Wav2Vec2ForPreTraining

    spec = importlib.util.spec_from_file_location(
        "pretrain_wav2vec2", REPO / "examples" / "transformers" / "pretrain_wav2vec2.py"
    )
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    torch.manual_seed(0)
    np.random.seed(0)
    rng = np.random.default_rng(0)
    return {
        "model": Wav2Vec2ForPreTraining(example.tiny_config()),
        "waveforms": [rng.standard_normal(16000).astype(np.float32) for _ in range(2)],
    }
