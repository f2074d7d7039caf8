"""Any ``rpc_plugins`` objective as the loss of Hugging Face's ``Wav2Vec2ForPreTraining``.

Relative Predictive Coding: Tsai et al., "Self-supervised Representation Learning with Relative Predictive
Coding", ICLR 2021 (arXiv 2103.11275), eq. 2 (loss = -(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2])).

The critic is wav2vec 2.0's: f = critic_scale * cos(c_t, q) / kappa on the masked frames (``scores.py``), E_P
over each masked frame's own target, E_Q over its sampled distractors except those equal to the target. The loss
mirrors the forward's own ``loss`` (and fairseq's criterion): the objective times the number of masked frames
(HF sums its cross-entropy over them), plus ``diversity_loss_weight`` times HF's diversity loss
((G V - perplexity) / (G V) * masked frames). With ``objective="infonce"`` and the defaults it is HF's
``contrastive_loss`` and ``loss``, in value and gradients.

Distributed (torch.distributed initialised, world size > 1): every rank gathers all ranks' scores (autograd-aware,
``rpc_plugins.distributed.all_gather``), so its loss is the objective over the global batch and DDP's gradient
averaging gives exactly the one-process gradient (lightly's convention, ``rpc_plugins.distributed``). The
diversity loss is the sum of the ranks' own diversity losses (HF computes the codebook perplexity per forward).
Every collective gets tensors on the inputs' device (NCCL takes no CPU tensor).

Values read back on the host per call (``adapters/README.md`` lists every adapter's): the masked frames
(``scores.masked_frames``, a ``nonzero``), whether any distractor is valid (``_any``), and under torch.distributed
the ranks' masked-frame counts (``_read_counts``). HF's own loss reads two: ``neg_is_pos.any()`` and the
``nonzero`` of ``logits[1:][neg_is_pos] = -inf``. ``logs`` stay on the device until first read, then one read.

Edge batches: distractors that all equal their target (a collapsed codebook) add nothing, as in HF; a batch with
no valid distractor at all trains on the positives alone (``Objective.without_negatives``; InfoNCE is 0 there,
HF's value) with a warning logged once. No masked frame (where HF's diversity loss is NaN) is a ValueError.

>>> import torch
>>> from transformers import Wav2Vec2Config
>>> loss_fn = Wav2Vec2PretrainingLoss(Wav2Vec2Config(), objective="rpc")
>>> loss_fn.critic_scale  # f = cosine for RPC by default (HF's logits are cosine / 0.1)
0.1
"""

import logging
import math
from collections.abc import Mapping
from typing import Dict, NamedTuple, Optional

import torch
import torch.distributed as dist
from torch import Tensor

from rpc_plugins import OBJECTIVE_KNOBS, OBJECTIVES, get_objective
from rpc_plugins.distributed import all_gather, all_reduce_sum, is_distributed
from rpc_plugins.mi import rpc_ratio

from .scores import ContrastiveScores, check_inputs, masked_frames, scores_at

logger = logging.getLogger(__name__)


class PretrainingLossOutput(NamedTuple):
    loss: Tensor  # contrastive_loss + diversity_loss_weight * diversity_loss (what to backpropagate)
    contrastive_loss: Tensor  # objective * masked frames (HF's summed cross-entropy for infonce)
    diversity_loss: Tensor  # HF's diversity loss (summed over ranks under torch.distributed)
    num_masked: int  # masked frames (all ranks): divide by it for a per-frame loss
    logs: Mapping[str, float]  # E_pos, E_neg, mi_nce (and mi_rpc), accuracy, counts, perplexity (read lazily)


class Wav2Vec2PretrainingLoss:
    """``loss_fn(outputs, mask_time_indices, sampled_negative_indices)`` for a ``Wav2Vec2ForPreTraining`` forward.

    Args:
        config: the model's config (``model.config``): temperature, diversity weight and codebook size.
        objective: any of ``rpc_plugins.OBJECTIVES`` (``rpc`` = Relative Predictive Coding).
        alpha, beta, gamma: RPC's relative parameters (objective ``rpc``); clip: SMILE's clip. Unset: the
            core's defaults (``rpc_plugins.OBJECTIVE_KNOBS``); knobs of other objectives are ignored.
        critic_scale: f = critic_scale * HF's logit (cos / kappa). Default: 1 (HF's logits) for every objective
            except ``rpc``, whose default is kappa (f = cosine, inside RPC's optimal-critic range
            [-alpha/gamma, 1/beta]; RPC is not scale invariant).
        temperature: kappa; default ``config.contrastive_logits_temperature``.
        diversity_loss_weight: default ``config.diversity_loss_weight``.
    """

    _warned_no_negatives = False

    def __init__(
        self,
        config,
        objective: str = "rpc",
        *,
        alpha: Optional[float] = None,
        beta: Optional[float] = None,
        gamma: Optional[float] = None,
        clip: Optional[float] = None,
        critic_scale: Optional[float] = None,
        temperature: Optional[float] = None,
        diversity_loss_weight: Optional[float] = None,
    ):
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; choose one of {sorted(OBJECTIVES)}")
        self.objective = objective
        self.temperature = float(config.contrastive_logits_temperature if temperature is None else temperature)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        default_scale = self.temperature if objective == "rpc" else 1.0
        self.critic_scale = float(default_scale if critic_scale is None else critic_scale)
        if not self.critic_scale > 0:
            raise ValueError(f"critic_scale must be > 0, got {self.critic_scale}")
        self.diversity_loss_weight = float(
            config.diversity_loss_weight if diversity_loss_weight is None else diversity_loss_weight
        )
        self.num_codevectors = config.num_codevectors_per_group * config.num_codevector_groups
        # the objective's knobs over the core's defaults (rpc_plugins.OBJECTIVE_KNOBS); others' knobs are not used
        given = {
            k: v
            for k, v in dict(alpha=alpha, beta=beta, gamma=gamma, clip=clip).items()
            if v is not None and k in OBJECTIVE_KNOBS[objective]
        }
        self._objective = get_objective(objective, **given)  # ValueError naming a bad knob
        self.hyper = self._objective.score_knobs()

    def __repr__(self):
        hyper = "".join(f", {k}={v}" for k, v in self.hyper.items())
        return (
            f"Wav2Vec2PretrainingLoss(objective={self.objective!r}{hyper}, critic_scale={self.critic_scale}, "
            f"temperature={self.temperature}, diversity_loss_weight={self.diversity_loss_weight})"
        )

    def __call__(self, outputs, mask_time_indices: Tensor, sampled_negative_indices: Tensor) -> PretrainingLossOutput:
        c = _field(outputs, "projected_states")
        q = _field(outputs, "projected_quantized_states")
        perplexity = _field(outputs, "codevector_perplexity")
        check_inputs(c, q, mask_time_indices, sampled_negative_indices)
        frames = masked_frames(mask_time_indices)  # host read: the masked frames
        local_count = frames.shape[0]
        scores = scores_at(c, q, sampled_negative_indices, frames, self.temperature)
        scores = ContrastiveScores(scores.pos * self.critic_scale, scores.neg * self.critic_scale, scores.valid)
        if is_distributed():
            scores = _gather_scores(scores)
        pos, neg, valid = scores
        num_masked = pos.shape[0]
        if num_masked == 0:
            raise ValueError(
                "mask_time_indices masks no frame: there is nothing to predict (HF's diversity loss "
                "divides by the masked-frame count and is NaN there); mask at least one frame"
            )
        if _any(valid):  # host read: is there a valid distractor at all
            contrastive = self._objective(pos, neg, valid) * num_masked
        else:
            contrastive = self._positives_only(pos)
        diversity = self._diversity(perplexity, local_count)
        loss = contrastive + self.diversity_loss_weight * diversity
        logs = _Logs(self._logs(scores, contrastive, diversity, perplexity), num_masked=num_masked)
        return PretrainingLossOutput(loss, contrastive, diversity, num_masked, logs)

    def _diversity(self, perplexity: Tensor, local_masked: int) -> Tensor:
        """HF's L_d = (G V - perplexity) / (G V) * masked frames; summed over ranks under torch.distributed."""
        if local_masked == 0:  # a rank without masked frames (HF's perplexity is 0/0 there) adds nothing
            local = perplexity.float().nan_to_num(0.0) * 0.0
        else:
            local = ((self.num_codevectors - perplexity) / self.num_codevectors) * local_masked
        return all_reduce_sum(local) if is_distributed() else local

    def _positives_only(self, pos: Tensor) -> Tensor:
        if not Wav2Vec2PretrainingLoss._warned_no_negatives:
            Wav2Vec2PretrainingLoss._warned_no_negatives = True
            logger.warning(
                f"rpc_transformers: a batch whose {pos.shape[0]} masked frames have no valid distractor "
                "(every sampled distractor equals its target); the objective is taken over the positives "
                "alone (Objective.without_negatives: InfoNCE is 0, as HF's loss) and the diversity "
                "loss still trains. Logged once."
            )
        return self._objective.without_negatives(pos) * pos.shape[0]

    @torch.no_grad()
    def _logs(self, scores: ContrastiveScores, contrastive: Tensor, diversity: Tensor, perplexity: Tensor):
        """E_pos, E_neg (means of f), the InfoNCE MI bound and, for RPC, the authors' MI estimate, as 0-dim float64
        tensors on the device (read back by ``_Logs``)."""
        pos, neg, valid = (t.double() if t.is_floating_point() else t for t in scores)
        n_valid = valid.sum(1)
        total = n_valid.sum()
        logits = torch.cat([pos[:, None], neg.masked_fill(~valid, float("-inf"))], dim=1)
        nce = torch.log1p(n_valid.double()) - (torch.logsumexp(logits, dim=1) - pos)  # log(1 + K_i) - CE_i
        values = {
            "contrastive_loss": contrastive.detach().double(),
            "diversity_loss": diversity.detach().double(),
            "codevector_perplexity": perplexity.detach().double(),
            "num_negatives": total.double(),
            "E_pos": pos.mean(),
            "E_neg": torch.where(total > 0, neg.masked_fill(~valid, 0.0).sum() / total, math.nan),
            "accuracy": (pos[:, None] > neg.masked_fill(~valid, float("-inf"))).all(1).double().mean(),
            "mi_nce": nce.mean(),
        }
        if self.objective == "rpc":  # invert f = (r - alpha)/(beta r + gamma) at the mean positive score (authors)
            ratio = rpc_ratio(pos.mean(), self.hyper["alpha"], self.hyper["beta"], self.hyper["gamma"])
            values["mi_rpc"] = torch.log(torch.as_tensor(ratio, dtype=torch.float64).clamp_min(1e-4))
        return {k: v.reshape(()) for k, v in values.items()}


class _Logs(Mapping):
    """The logs of one call: 0-dim tensors on the device (``tensors``), read back to the host at once when a
    value is first read. Holds no autograd graph and nothing of the batch's size.

    >>> logs = _Logs({"E_pos": torch.tensor(0.5), "num_negatives": torch.tensor(3.0)}, num_masked=2)
    >>> dict(logs)
    {'E_pos': 0.5, 'num_negatives': 3, 'num_masked': 2}
    """

    def __init__(self, tensors: Dict[str, Tensor], num_masked: int):
        self.tensors, self._num_masked, self._values = tensors, num_masked, None

    def _get(self) -> Dict[str, float]:
        if self._values is None:
            read = torch.stack(list(self.tensors.values())).tolist()  # the one read
            self._values = dict(zip(self.tensors, read))
            self._values["num_negatives"] = int(self._values["num_negatives"])
            self._values["num_masked"] = self._num_masked
        return self._values

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self):
        return len(self._get())

    def __repr__(self):
        return repr(self._get())

    def __reduce__(self):  # pickled (torch.save, multiprocessing) as the plain dict it reads as
        return (dict, (self._get(),))


def _field(outputs, name: str):
    value = outputs.get(name) if isinstance(outputs, dict) else getattr(outputs, name, None)
    if value is None:
        raise ValueError(
            f"outputs has no {name!r}: pass the output of Wav2Vec2ForPreTraining's forward "
            "(a Wav2Vec2ForPreTrainingOutput, or its dict)"
        )
    return value


def _any(valid: Tensor) -> bool:
    """Host read: whether any distractor is valid (HF reads ``neg_is_pos.any()`` for the same edge)."""
    return bool(valid.any())


def _read_counts(counts: Tensor) -> list:
    """Host read: every rank's masked-frame count, to pad and strip the gathered scores."""
    return counts.tolist()


def _gather_scores(scores: ContrastiveScores) -> ContrastiveScores:
    """Concatenate every rank's (A_r, ...) scores; A_r may differ, so pad to the largest and strip. Every
    collective is handed tensors on the scores' device."""
    pos, neg, valid = scores
    device = pos.device
    counts = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, torch.full((1,), pos.shape[0], dtype=torch.long, device=device))
    counts = _read_counts(torch.cat(counts))
    width, top = neg.shape[1], max(counts)
    pad = top - pos.shape[0]
    neg = neg.masked_fill(~valid, 0.0)  # finite before the collective; ``valid`` keeps the mask
    pos_all = all_gather(torch.cat([pos, pos.new_zeros(pad)]))
    neg_all = all_gather(torch.cat([neg, neg.new_zeros(pad, width)]))
    valid_all = all_gather(torch.cat([valid, valid.new_zeros(pad, width)]).to(torch.uint8)).bool()
    keep = torch.cat([torch.arange(r * top, r * top + n, device=device) for r, n in enumerate(counts)])
    return ContrastiveScores(pos_all[keep], neg_all[keep], valid_all[keep])
