"""Relative Predictive Coding as a fairseq criterion (wav2vec 2.0 and wav2vec / CPC).

Tsai et al., "Self-supervised Representation Learning with Relative Predictive Coding", ICLR 2021
(arXiv 2103.11275). wav2vec models emit logits of shape (anchors, 1 + K): the true (quantised)
future in column 0 and K distractors, ``-inf`` where a distractor equals the positive. Each row
is one anchor; RPC's expectations run over all positives and all valid distractors:

    loss = -(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2]) * n_anchors   (summed, as fairseq expects)

with f = critic_scale * logit. ``critic_scale`` defaults to 0.1 for RPC (wav2vec 2.0 logits are
cosine / 0.1, so f = cosine; RPC is not scale invariant) and to 1.0 for every other objective, so
``criterion.objective=infonce`` with its defaults is fairseq's wav2vec loss, in value and gradients.
The other knobs and their defaults are the core's (``rpc_plugins.OBJECTIVE_KNOBS``). Extra losses (codebook
diversity, feature penalty) are added as fairseq's ``wav2vec`` criterion adds them (``loss_weights`` and
``log_keys`` keep their meaning). The logits must have the InfoNCE layout, one row per anchor with the positive in
column 0: wav2vec 2.0 always emits it; wav2vec (v1) does with ``model.infonce: true`` (its binary layout, one
logit per pair, is a ValueError).

Edge batches, where fairseq's ``wav2vec`` criterion gives a finite loss, so does this one: a batch of one
sample trains as any other; rows whose distractors are all ``-inf`` (every negative equal to the positive,
e.g. a collapsed codebook) just add nothing to E_Q. A batch with no valid negative pair at all follows the
core's rule for an empty negative set (``Objective.without_negatives``: an expectation over no negative
contributes 0, so RPC keeps -(E_P[f] - beta/2 E_P[f^2]) and InfoNCE is 0, exactly fairseq's cross-entropy
there); the extra losses train as usual and a warning is logged once per process. A batch with no anchor
(wav2vec v1 on an utterance no longer than its prediction offset) gives 0, as fairseq's criterion does.
Inputs that the wav2vec models themselves reject (fewer than two time steps to draw negatives from) fail in
the model, as with the host's criterion.

Registration: installed with ``rpc-plugins``, the Hydra plugin ``hydra_plugins.rpc_fairseq_plugin`` imports
this module when ``fairseq-hydra-train`` starts, before fairseq composes its config, so ``criterion._name=rpc``
needs no ``common.user_dir`` and the defaults below are part of the composed config.

>>> # fairseq-hydra-train ... criterion._name=rpc criterion.alpha=1.0
"""

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import List, Optional

import torch
from fairseq import metrics, utils
from fairseq.criterions import CRITERION_REGISTRY, FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from rpc_plugins import OBJECTIVE_KNOBS, OBJECTIVES, get_objective
from rpc_plugins.pairing import split_column0_logits

logger = logging.getLogger(__name__)

_RPC = OBJECTIVE_KNOBS["rpc"]
_CLIP = OBJECTIVE_KNOBS["smile"]["clip"]
# f = critic_scale * logit: RPC on cosines; every other objective on the logits as fairseq's loss reads them.
DEFAULT_CRITIC_SCALE = {"rpc": 0.1}


def default_critic_scale(objective: str) -> float:
    """``critic_scale`` when the config leaves it unset: 0.1 for rpc, 1.0 (fairseq's own scale) otherwise."""
    return DEFAULT_CRITIC_SCALE.get(objective, 1.0)


def _knob(objective: str, name: str):
    """The config field of one knob: its default, check and help, read off the objective's declaration."""
    declared = {f.name: f for f in dataclasses.fields(OBJECTIVES[objective])}[name]
    help = f"{objective} ({declared.metadata['check']}): {declared.metadata['help']}"
    return field(default=declared.default, metadata={"help": help})


@dataclass
class RpcCriterionConfig(FairseqDataclass):
    objective: str = field(
        default="rpc",
        metadata={"help": f"objective on the logits: one of {sorted(OBJECTIVES)} (rpc = Relative Predictive Coding)"},
    )
    alpha: float = _knob("rpc", "alpha")
    beta: float = _knob("rpc", "beta")
    gamma: float = _knob("rpc", "gamma")
    critic_scale: Optional[float] = field(
        default=None,
        metadata={
            "help": "f = critic_scale * logit; unset: 0.1 for rpc (wav2vec 2.0 logits are cosine / logit_temp (0.1), "
            "so f = cosine; RPC is not shift/scale invariant), 1.0 for every other objective (so infonce is "
            "fairseq's wav2vec loss). wav2vec (v1) logits are raw dot products."
        },
    )
    clip: float = _knob("smile", "clip")
    loss_weights: Optional[List[float]] = field(
        default=None,
        metadata={"help": "weights for additional loss terms (not first one), as in the wav2vec criterion"},
    )
    log_keys: List[str] = field(default_factory=lambda: [], metadata={"help": "output keys to log"})


class RpcCriterion(FairseqCriterion):
    """RPC (or any ``rpc_plugins`` objective) on wav2vec logits; see the module docstring."""

    _warned_no_negatives = False

    def __init__(
        self,
        task,
        objective="rpc",
        alpha=_RPC["alpha"],
        beta=_RPC["beta"],
        gamma=_RPC["gamma"],
        critic_scale=None,
        clip=_CLIP,
        loss_weights=None,
        log_keys=None,
    ):
        super().__init__(task)
        if objective not in OBJECTIVES:
            raise ValueError(
                f"criterion.objective={objective!r} is not supported: unknown objective "
                f"{objective!r}; valid values: {', '.join(sorted(OBJECTIVES))}"
            )
        knobs = dict(alpha=alpha, beta=beta, gamma=gamma, clip=clip)  # MIO's act on two-view pairs, not on logits
        try:  # the objective's own knobs, checked by its declaration
            self._objective = get_objective(
                objective, **{k: v for k, v in knobs.items() if k in OBJECTIVE_KNOBS[objective]}
            )
        except ValueError as e:
            raise ValueError(f"criterion: {e}") from None
        if critic_scale is None:
            critic_scale = default_critic_scale(objective)
        if not critic_scale > 0:
            raise ValueError(f"criterion.critic_scale must be > 0, got {critic_scale}")
        self.objective = objective
        self.alpha, self.beta, self.gamma, self.critic_scale, self.clip = alpha, beta, gamma, critic_scale, clip
        self.loss_weights = loss_weights
        self.log_keys = [] if log_keys is None else log_keys

    def forward(self, model, sample, reduce=True):
        """Returns (summed loss, sample_size, logging_output) like fairseq's wav2vec criterion."""
        if not reduce:
            raise ValueError("the rpc criterion pools negatives over the batch; reduce=False is not supported")
        net_output = model(**sample["net_input"])
        logits = model.get_logits(net_output).float()
        target = model.get_targets(sample, net_output)
        if logits.dim() != 2 or (torch.is_tensor(target) and tuple(target.shape) != tuple(logits.shape[:1])):
            raise ValueError(
                f"expected logits (anchors, 1 + negatives) with the positive in column 0, got "
                f"shape {tuple(logits.shape)}: wav2vec (v1) emits that layout with model.infonce=true"
            )
        loss, (pos, neg, mask) = self.loss_on_logits(logits)
        n_anchors = pos.shape[0]

        if "sample_size" in sample:
            sample_size = sample["sample_size"]
        elif "mask_indices" in sample["net_input"]:
            sample_size = sample["net_input"]["mask_indices"].sum()
        else:
            sample_size = n_anchors
        losses = [loss.detach().clone()]
        if self.loss_weights is not None:
            extra_losses = model.get_extra_losses(net_output)
            if torch.is_tensor(extra_losses):
                extra_losses = [extra_losses]
            if len(self.loss_weights) == 1 and len(extra_losses) != 1:
                self.loss_weights = [self.loss_weights[0]] * len(extra_losses)
            if len(extra_losses) != len(self.loss_weights):
                raise ValueError(
                    f"criterion.loss_weights has {len(self.loss_weights)} entries but the model "
                    f"returns {len(extra_losses)} extra losses"
                )
            for p, coef in zip(extra_losses, self.loss_weights):
                if coef != 0 and p is not None:
                    p = coef * p.float() * sample_size
                    loss = loss + p
                    losses.append(p)

        logging_output = self._logging(loss, losses, sample, sample_size, logits, pos, neg, mask, net_output)
        return loss, sample_size, logging_output

    def loss_on_logits(self, logits):
        """The summed objective on logits (anchors, 1 + K), positive in column 0, and the scores it used.

        Reads one value back on the host: whether any negative is valid (``_any``; ``adapters/README.md``)."""
        pos, neg, mask = split_column0_logits(logits * self.critic_scale)
        n_anchors = pos.shape[0]
        if n_anchors > 0 and _any(mask):
            loss = self._objective(pos, neg, mask) * n_anchors
        else:
            loss = self._no_contrast(pos, n_anchors)
        return loss, (pos, neg, mask)

    def _no_contrast(self, pos, n_anchors):
        """Summed loss of a batch with no anchor (0) or no valid negative pair (the empty-negative-set value)."""
        if n_anchors == 0:
            return pos.sum() * 0.0  # what fairseq's cross-entropy sums to over no row
        if not RpcCriterion._warned_no_negatives:
            RpcCriterion._warned_no_negatives = True
            logger.warning(
                f"criterion rpc: a batch with {n_anchors} anchors and no valid negative pair (every distractor "
                "-inf); its objective is taken over the positives alone (an expectation over no negative "
                "contributes 0, Objective.without_negatives) and the extra losses still train. Logged once."
            )
        return self._objective.without_negatives(pos) * n_anchors

    @torch.no_grad()
    def _logging(self, loss, losses, sample, sample_size, logits, pos, neg, mask, net_output):
        valid_neg = torch.where(mask, neg, torch.zeros_like(neg))
        out = {
            "loss": loss.item(),
            "ntokens": utils.item(sample_size),
            "nsentences": sample["id"].numel(),
            "sample_size": utils.item(sample_size),
            "n_anchors": pos.numel(),
            "n_negatives": int(mask.sum()),
            "pos_score_sum": pos.sum().item(),
            "neg_score_sum": valid_neg.sum().item(),
        }
        if self.objective == "rpc" and pos.numel() > 0:
            # the authors' estimator: invert f = (r - alpha)/(beta r + gamma) at the batch-mean positive score
            mean_pos = pos.mean().item()
            ratio = (self.gamma * mean_pos + self.alpha) / max(1 - self.beta * mean_pos, 1e-8)
            out["mi_sum"] = math.log(max(ratio, 1e-4)) * pos.numel()
        is_max = logits.argmax(-1) == 0
        is_min = logits.argmin(-1) == 0
        out["correct"] = int(is_max.sum()) - int((is_max & is_min).sum())
        out["count"] = float(is_max.numel())
        if len(losses) > 1:
            for i, value in enumerate(losses):
                out[f"loss_{i}"] = value.item()
        for key in self.log_keys:
            if key in net_output and key not in ("logits", "target"):
                out[key] = float(net_output[key])
        return out

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        """Aggregate logging outputs (sums) from data-parallel workers."""

        def total(key):
            return utils.item(sum(log.get(key, 0) for log in logging_outputs))

        sample_size = total("sample_size")
        metrics.log_scalar("loss", total("loss") / (sample_size or 1) / math.log(2), sample_size, round=3)
        metrics.log_scalar("ntokens", total("ntokens"))
        metrics.log_scalar("nsentences", total("nsentences"))
        anchors, negatives = total("n_anchors"), total("n_negatives")
        if anchors:
            metrics.log_scalar("E_pos", total("pos_score_sum") / anchors, anchors, round=4)
            if any("mi_sum" in log for log in logging_outputs):
                metrics.log_scalar("mi_rpc", total("mi_sum") / anchors, anchors, round=4)
        if negatives:
            metrics.log_scalar("E_neg", total("neg_score_sum") / negatives, negatives, round=4)
        metrics.log_scalar("_correct", total("correct"))
        metrics.log_scalar("_total", total("count"))
        if total("count") > 0:
            metrics.log_derived(
                "accuracy",
                lambda m: utils.item(m["_correct"].sum / m["_total"].sum) if m["_total"].sum > 0 else float("nan"),
            )
        known = {
            "loss",
            "ntokens",
            "nsentences",
            "sample_size",
            "correct",
            "count",
            "n_anchors",
            "n_negatives",
            "pos_score_sum",
            "neg_score_sum",
            "mi_sum",
        }
        for key in logging_outputs[0] if logging_outputs else []:
            if key not in known:
                value = total(key)
                if key.startswith("loss"):
                    metrics.log_scalar(key, value / (sample_size or 1) / math.log(2), sample_size, round=3)
                else:
                    metrics.log_scalar(key, value / len(logging_outputs), round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


def _any(mask):
    """Host read: whether any negative is valid (the empty-negative rule needs it; the value is one bool)."""
    return bool(mask.any())


# fairseq raises on a second registration of a name; importing this file under two module names
# (user-dir basename and an installed package) must stay harmless.
if "rpc" not in CRITERION_REGISTRY:
    register_criterion("rpc", dataclass=RpcCriterionConfig)(RpcCriterion)
