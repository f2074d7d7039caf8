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

Edge batches: distractors that all equal their target (a collapsed codebook) add nothing, as in HF; a batch with
no valid distractor at all trains on the positives alone (``rpc_plugins.positive_only_loss``; InfoNCE is 0 there,
HF's value) with a warning logged once. No masked frame (where HF's diversity loss is NaN) is a ValueError.

>>> import torch
>>> from transformers import Wav2Vec2Config
>>> loss_fn = Wav2Vec2PretrainingLoss(Wav2Vec2Config(), objective="rpc")
>>> loss_fn.critic_scale  # f = cosine for RPC by default (HF's logits are cosine / 0.1)
0.1
"""

import logging
import math
from typing import Dict, NamedTuple, Optional

import torch
import torch.distributed as dist
from torch import Tensor

from rpc_plugins import OBJECTIVE_HYPERPARAMETERS, OBJECTIVES, get_objective, objective_options, positive_only_loss
from rpc_plugins.distributed import all_gather, all_reduce_sum, is_distributed
from rpc_plugins.knobs import score_options
from rpc_plugins.mi import rpc_ratio

from .scores import ContrastiveScores, check_inputs, contrastive_scores

logger = logging.getLogger(__name__)


class PretrainingLossOutput(NamedTuple):
    loss: Tensor  # contrastive_loss + diversity_loss_weight * diversity_loss (what to backpropagate)
    contrastive_loss: Tensor  # objective * masked frames (HF's summed cross-entropy for infonce)
    diversity_loss: Tensor  # HF's diversity loss (summed over ranks under torch.distributed)
    num_masked: int  # masked frames (all ranks): divide by it for a per-frame loss
    logs: Dict[str, float]  # E_pos, E_neg, mi_nce (and mi_rpc), accuracy, counts, perplexity


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
            if v is not None and k in OBJECTIVE_HYPERPARAMETERS[objective]
        }
        self.hyper = score_options(objective, objective_options(objective, given, temperature=self.temperature))

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
        local_masked = mask_time_indices.bool().sum()
        local_count = int(local_masked)  # read once: the count, the edge case and the diversity loss use it
        num_masked = int(all_reduce_sum(local_masked.detach().clone())) if is_distributed() else local_count
        if num_masked == 0:
            raise ValueError(
                "mask_time_indices masks no frame: there is nothing to predict (HF's diversity loss "
                "divides by the masked-frame count and is NaN there); mask at least one frame"
            )
        scores = contrastive_scores(c, q, mask_time_indices, sampled_negative_indices, self.temperature)
        scores = ContrastiveScores(scores.pos * self.critic_scale, scores.neg * self.critic_scale, scores.valid)
        if is_distributed():
            scores = _gather_scores(scores)
        pos, neg, valid = scores
        if bool(valid.any()):
            contrastive = get_objective(self.objective)(pos, neg, valid, **self.hyper) * pos.shape[0]
        else:
            contrastive = self._positives_only(pos)
        diversity = self._diversity(perplexity, local_count)
        loss = contrastive + self.diversity_loss_weight * diversity
        logs = self._logs(scores, contrastive, diversity, perplexity)
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
                "alone (rpc_plugins.positive_only_loss: InfoNCE is 0, as HF's loss) and the diversity "
                "loss still trains. Logged once."
            )
        return positive_only_loss(self.objective, pos, **self.hyper) * pos.shape[0]

    @torch.no_grad()
    def _logs(self, scores: ContrastiveScores, contrastive: Tensor, diversity: Tensor, perplexity: Tensor):
        """E_pos, E_neg (means of f), the InfoNCE MI bound and, for RPC, the authors' MI estimate."""
        pos, neg, valid = (t.double() if t.is_floating_point() else t for t in scores)
        n_valid = valid.sum(1)
        logits = torch.cat([pos[:, None], neg.masked_fill(~valid, float("-inf"))], dim=1)
        nce = torch.log1p(n_valid.double()) - (torch.logsumexp(logits, dim=1) - pos)  # log(1 + K_i) - CE_i
        logs = {
            "contrastive_loss": float(contrastive),
            "diversity_loss": float(diversity),
            "codevector_perplexity": float(perplexity),
            "num_masked": pos.shape[0],
            "num_negatives": int(n_valid.sum()),
            "E_pos": float(pos.mean()),
            "E_neg": float(neg.masked_fill(~valid, 0.0).sum() / n_valid.sum()) if bool(valid.any()) else math.nan,
            "accuracy": float((pos[:, None] > neg.masked_fill(~valid, float("-inf"))).all(1).double().mean()),
            "mi_nce": float(nce.mean()),
        }
        if self.objective == "rpc":  # invert f = (r - alpha)/(beta r + gamma) at the mean positive score (authors)
            ratio = rpc_ratio(pos.mean(), self.hyper["alpha"], self.hyper["beta"], self.hyper["gamma"])
            logs["mi_rpc"] = math.log(max(float(ratio), 1e-4))
        return logs


def _field(outputs, name: str):
    value = outputs.get(name) if isinstance(outputs, dict) else getattr(outputs, name, None)
    if value is None:
        raise ValueError(
            f"outputs has no {name!r}: pass the output of Wav2Vec2ForPreTraining's forward "
            "(a Wav2Vec2ForPreTrainingOutput, or its dict)"
        )
    return value


def _gather_scores(scores: ContrastiveScores) -> ContrastiveScores:
    """Concatenate every rank's (A_r, ...) scores; A_r may differ, so pad to the largest and strip."""
    pos, neg, valid = scores
    counts = [torch.zeros(1, dtype=torch.long) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, torch.tensor([pos.shape[0]], dtype=torch.long))
    counts = [int(c) for c in counts]
    width, top = neg.shape[1], max(counts)
    pad = top - pos.shape[0]
    neg = neg.masked_fill(~valid, 0.0)  # finite before the collective; ``valid`` keeps the mask
    pos_all = all_gather(torch.cat([pos, pos.new_zeros(pad)]))
    neg_all = all_gather(torch.cat([neg, neg.new_zeros(pad, width)]))
    valid_all = all_gather(torch.cat([valid, valid.new_zeros(pad, width)]).to(torch.uint8)).bool()
    keep = torch.cat([torch.arange(r * top, r * top + n) for r, n in enumerate(counts)])
    return ContrastiveScores(pos_all[keep], neg_all[keep], valid_all[keep])
