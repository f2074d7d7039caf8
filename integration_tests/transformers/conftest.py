"""Tiny ``Wav2Vec2ForPreTraining`` models built from a config (nothing is downloaded) and batches drawn with
transformers' own mask and distractor samplers."""

import numpy as np
import pytest
import torch


def tiny_config(**overrides):
    from transformers import Wav2Vec2Config

    kw = dict(
        conv_dim=(16, 16, 16),
        conv_kernel=(10, 8, 4),
        conv_stride=(5, 4, 2),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
        codevector_dim=16,
        proj_codevector_dim=16,
        num_codevector_groups=2,
        num_codevectors_per_group=8,
        num_negatives=10,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        feat_quantizer_dropout=0.0,
        layerdrop=0.0,
        final_dropout=0.0,
    )
    kw.update(overrides)
    return Wav2Vec2Config(**kw)


def tiny_model(seed=0, **overrides):
    from transformers import Wav2Vec2ForPreTraining

    torch.manual_seed(seed)
    return Wav2Vec2ForPreTraining(tiny_config(**overrides))


def make_batch(config, batch=2, samples=3200, seed=0, mask_prob=0.5, mask_length=3):
    """(input_values, mask_time_indices, sampled_negative_indices) from HF's samplers (int64 / bool tensors)."""
    from rpc_transformers import PretrainingCollator

    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    waves = [rng.standard_normal(samples).astype(np.float32) for _ in range(batch)]
    out = PretrainingCollator(config, mask_prob=mask_prob, mask_length=mask_length)(waves)
    return out["input_values"], out["mask_time_indices"], out["sampled_negative_indices"]


@pytest.fixture
def model():
    return tiny_model()
