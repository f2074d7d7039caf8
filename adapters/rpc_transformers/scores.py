"""Scores of Hugging Face wav2vec 2.0's contrastive task, laid out for the core objectives.

wav2vec 2.0 (Baevski et al., NeurIPS 2020, eq. 3) scores each masked frame's context vector c_t against its
own quantized target q_t and K sampled distractors by cosine similarity over a temperature kappa.
``transformers``' ``Wav2Vec2ForPreTraining.forward`` computes the same logits inside its loss
(``compute_contrastive_logits``) and sets a distractor that equals the target to ``-inf``; it does not return
them, so this module recomputes them from the forward's ``projected_states`` (c_t after ``project_hid``) and
``projected_quantized_states`` (q_t after ``project_q``), for the masked frames only:

    pos[i]    = cos(c_t, q_t) / kappa                      (A,)    A = number of masked frames
    neg[i, k] = cos(c_t, q_{n(t, k)}) / kappa, or -inf     (A, K)  where q_{n(t, k)} == q_t (HF's rule)

>>> import torch
>>> states = torch.randn(1, 4, 8)
>>> mask = torch.tensor([[True, True, False, False]])
>>> negatives = torch.tensor([[[1, 1], [0, 0], [0, 0], [0, 0]]])
>>> s = contrastive_scores(states, states, mask, negatives, temperature=0.1)
>>> s.pos.tolist() == [10.0, 10.0] or torch.allclose(s.pos, torch.full((2,), 10.0))
True
>>> s.neg.shape, bool(s.valid.all())
(torch.Size([2, 2]), True)
"""

from typing import NamedTuple

import torch
from torch import Tensor


class ContrastiveScores(NamedTuple):
    pos: Tensor  # (A,) float32: each masked frame against its own target
    neg: Tensor  # (A, K) float32: against its distractors, -inf where the distractor equals the target
    valid: Tensor  # (A, K) bool: False where neg is -inf


def _tensor(name: str, value) -> Tensor:
    if value is None:
        raise ValueError(
            f"{name} is required (got None): the adapter scores the masked frames against the "
            "sampled distractors, as Wav2Vec2ForPreTraining does when it computes its own loss"
        )
    if not torch.is_tensor(value):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_inputs(projected_states, projected_quantized_states, mask_time_indices, sampled_negative_indices):
    """ValueError naming the key for a missing input, a wrong shape or dtype, an index out of range, NaN/Inf."""
    c = _tensor("projected_states", projected_states)
    q = _tensor("projected_quantized_states", projected_quantized_states)
    mask = _tensor("mask_time_indices", mask_time_indices)
    negatives = _tensor("sampled_negative_indices", sampled_negative_indices)
    if c.dim() != 3 or q.shape != c.shape:
        raise ValueError(
            f"projected_states {tuple(c.shape)} and projected_quantized_states {tuple(q.shape)} must "
            "both be (batch, frames, proj_codevector_dim)"
        )
    for name, x in (("projected_states", c), ("projected_quantized_states", q)):
        if not x.is_floating_point():
            raise ValueError(f"{name} must be floating point, got {x.dtype}")
    batch, frames = c.shape[:2]
    if tuple(mask.shape) != (batch, frames):
        raise ValueError(
            f"mask_time_indices has shape {tuple(mask.shape)}, expected (batch, frames) = "
            f"{(batch, frames)} of the forward's projected_states"
        )
    if mask.is_floating_point() or mask.is_complex():
        raise ValueError(f"mask_time_indices must be bool or integer 0/1, got {mask.dtype}")
    if negatives.dim() != 3 or tuple(negatives.shape[:2]) != (batch, frames) or negatives.shape[2] < 1:
        raise ValueError(
            f"sampled_negative_indices has shape {tuple(negatives.shape)}, expected (batch, frames, "
            f"num_negatives >= 1) with (batch, frames) = {(batch, frames)}"
        )
    if negatives.is_floating_point() or negatives.dtype == torch.bool:
        raise ValueError(f"sampled_negative_indices must be an integer tensor, got {negatives.dtype}")
    if c.device.type == "cpu":  # value checks read tensors back: free on the CPU; on accelerators, never wait
        if mask.dtype != torch.bool and bool(((mask != 0) & (mask != 1)).any()):
            raise ValueError("mask_time_indices must hold only 0 and 1")
        chosen = negatives[mask.bool()]
        if chosen.numel() and (int(chosen.min()) < 0 or int(chosen.max()) >= batch * frames):
            raise ValueError(
                f"sampled_negative_indices of masked frames must index the flattened batch, "
                f"0 <= index < batch * frames = {batch * frames}; got {int(chosen.min())}.."
                f"{int(chosen.max())}"
            )
        for name, x in (("projected_states", c), ("projected_quantized_states", q)):
            if not bool(torch.isfinite(x).all()):
                raise ValueError(f"{name} contains NaN or Inf")


def contrastive_scores(
    projected_states: Tensor,
    projected_quantized_states: Tensor,
    mask_time_indices: Tensor,
    sampled_negative_indices: Tensor,
    temperature: float,
) -> ContrastiveScores:
    """The masked frames' logits: cosine similarity (in float32, as HF) over ``temperature``.

    Args:
        projected_states: (B, T, D) ``outputs.projected_states``.
        projected_quantized_states: (B, T, D) ``outputs.projected_quantized_states``.
        mask_time_indices: (B, T) bool/0-1, the frames to predict (the ones the forward masked).
        sampled_negative_indices: (B, T, K) indices into the flattened (B * T) frames, as
            ``transformers.models.wav2vec2.modeling_wav2vec2._sample_negative_indices`` returns them.
        temperature: kappa, ``config.contrastive_logits_temperature`` for HF's own loss.
    """
    check_inputs(projected_states, projected_quantized_states, mask_time_indices, sampled_negative_indices)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    frames = masked_frames(mask_time_indices)
    return scores_at(projected_states, projected_quantized_states, sampled_negative_indices, frames, temperature)


def masked_frames(mask_time_indices: Tensor) -> Tensor:
    """Indices of the masked frames in the flattened (B * T) batch, on the mask's device.

    The one read of a value on the host here: how many frames are masked (``nonzero``; the length of
    the result). HF's own loss reads as much: its ``logits[1:][neg_is_pos] = -inf`` is a ``nonzero`` too.
    """
    return mask_time_indices.reshape(-1).nonzero().squeeze(1)


def scores_at(
    projected_states: Tensor,
    projected_quantized_states: Tensor,
    sampled_negative_indices: Tensor,
    frames: Tensor,
    temperature: float,
) -> ContrastiveScores:
    """``contrastive_scores`` for the flattened frame indices ``frames`` (A,): gathers only, no host read."""
    dim = projected_quantized_states.shape[-1]
    flat_q = projected_quantized_states.reshape(-1, dim)
    context = projected_states.reshape(-1, dim)[frames]  # (A, D)
    target = flat_q[frames]  # (A, D)
    negatives = sampled_negative_indices.reshape(-1, sampled_negative_indices.shape[-1])[frames]  # (A, K)
    distractors = flat_q[negatives.long()]  # (A, K, D)
    candidates = torch.cat([target[:, None], distractors], dim=1)  # (A, 1 + K, D), the positive first as in HF
    logits = torch.cosine_similarity(context.float()[:, None], candidates.float(), dim=-1) / temperature
    # HF masks a distractor identical to the target (a low-utilisation codebook picks the same code vector)
    same = (target[:, None] == distractors).all(-1)
    neg = logits[:, 1:].masked_fill(same, float("-inf"))
    return ContrastiveScores(logits[:, 0], neg, ~same)
