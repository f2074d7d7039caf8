"""MI estimates from a critic's score matrix (Poole et al. 2019; Song & Ermon 2020; Tsai et al. 2021).

``scores[i, j] = f(x_i, y_j)``: the diagonal holds the B positive pairs (joint), the B(B-1)
off-diagonal entries the negative pairs (product of marginals).

>>> import torch
>>> s = torch.eye(4) * 3.0
>>> round(float(estimate("dv", s)), 4) == round(float(3.0 - torch.log(torch.tensor(1.0))), 4)
True
"""

import math
from typing import Dict, Tuple

import torch
from torch import Tensor

from ..objectives import OBJECTIVE_KNOBS, get_objective


def check_scores(scores: Tensor) -> None:
    if not isinstance(scores, Tensor) or scores.dim() != 2 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a square (B, B) matrix with B >= 2, got {shape}")


def split_scores(scores: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """(pos (B,), neg (B, B), mask (B, B)) in the core's calling convention: diagonal masked out."""
    check_scores(scores)
    b = scores.shape[0]
    mask = ~torch.eye(b, dtype=torch.bool, device=scores.device)
    return scores.diagonal(), scores, mask


def _off_diagonal(scores: Tensor) -> Tensor:
    b = scores.shape[0]
    return scores[~torch.eye(b, dtype=torch.bool, device=scores.device)]


def _log_mean_exp(values: Tensor) -> Tensor:
    return torch.logsumexp(values, dim=0) - math.log(values.numel())


def infonce_estimate(scores: Tensor) -> Tensor:
    """I_NCE = log B + mean_i [f_ii - logsumexp_j f_ij] (bounded by log B)."""
    return math.log(scores.shape[0]) + (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean()


def nwj_estimate(scores: Tensor) -> Tensor:
    """I_NWJ = E_P[f] - e^{-1} E_Q[e^f]."""
    return scores.diagonal().mean() - torch.exp(_log_mean_exp(_off_diagonal(scores)) - 1.0)


def dv_estimate(scores: Tensor) -> Tensor:
    """I_DV = E_P[f] - log E_Q[e^f]."""
    return scores.diagonal().mean() - _log_mean_exp(_off_diagonal(scores))


def js_estimate(scores: Tensor) -> Tensor:
    """A JS-trained critic read with the NWJ bound on f + 1 (its optimum is log r - 1 shifted):
    1 + E_P[f] - E_Q[e^f] (Poole et al. 2019's ``js_lower_bound`` value)."""
    return 1.0 + scores.diagonal().mean() - torch.exp(_log_mean_exp(_off_diagonal(scores)))


def smile_estimate(scores: Tensor, clip: float = 5.0) -> Tensor:
    """SMILE: DV with e^f clipped to [e^-clip, e^clip] in the partition term."""
    return scores.diagonal().mean() - _log_mean_exp(torch.clamp(_off_diagonal(scores), -clip, clip))


def rpc_ratio(scores: Tensor, alpha: float, beta: float, gamma: float) -> Tensor:
    """Density ratio from the RPC critic: invert f = (r - alpha) / (beta r + gamma) (Tsai et al. 2021).

    r = (gamma f + alpha) / (1 - beta f); valid while -alpha/gamma < f < 1/beta (the optimal critic's range).

    >>> float(rpc_ratio(torch.tensor(1.0), 1.0, 0.0, 1.0))
    2.0
    """
    return (gamma * scores + alpha) / (1.0 - beta * scores)


def rpc_log_ratio(scores: Tensor, alpha: float, beta: float, gamma: float, eps: float = 1e-6) -> Tensor:
    """log r(f) = log(gamma f + alpha) - log(1 - beta f) in float64, f first clamped to the optimal critic's
    range [-alpha/gamma, 1/beta] and each log's argument to >= ``eps``.

    A score at or below -alpha/gamma reads as the floor log eps - log(1 + alpha beta / gamma), one at or above
    the cap 1/beta as the ceiling log(alpha + gamma / beta) - log eps; never NaN.

    >>> round(float(rpc_log_ratio(torch.tensor(1.0), 1.0, 0.0, 1.0)), 6) == round(math.log(2.0), 6)
    True
    """
    f = scores.double()
    if beta > 0:
        f = torch.clamp(f, max=1.0 / beta)
    if gamma > 0:
        f = torch.clamp(f, min=-alpha / gamma)
    return torch.log(torch.clamp(gamma * f + alpha, min=eps)) - torch.log(torch.clamp(1.0 - beta * f, min=eps))


RPC_FORMS = ("per_sample", "batch_mean", "dv", "dv_clip")


def rpc_estimate(
    scores: Tensor,
    alpha: float = 1.0,
    beta: float = 1e-4,
    gamma: float = 1.0,
    form: str = "per_sample",
    clip: float = 5.0,
) -> Tensor:
    """MI from a trained RPC critic (Tsai et al. 2021), reading the ratio r(f) = (gamma f + alpha) / (1 - beta f).

    form="per_sample" (default): mean_i log r(f_ii), the sample mean of E_P[log r] = KL(P || Q) = I(X; Y)
        (``rpc_log_ratio``, float64, no NaN for scores outside the optimal critic's range).
    form="batch_mean": the authors' code, log(clamp(r(mean_i f_ii), 1e-4)). For f ~ r - 1 (alpha = gamma = 1,
        small beta) this is log E_P[r] = log(1 + chi^2(P || Q)) >= I: over at low MI; capped by 1/beta at high MI.
    form="dv": E_P[log r] - log E_Q[r], the Donsker-Varadhan correction applied to r (renormalises a ratio
        whose batch E_Q is not 1; Poole et al. 2019).
    form="dv_clip": as "dv" with r clipped to [e^-clip, e^clip] in E_Q (SMILE's clip, Song & Ermon 2020).

    The returned tensor is float64.

    >>> s = torch.tensor([[1.0, -0.5], [-0.5, 3.0]])   # diagonal: positive pairs
    >>> round(float(rpc_estimate(s, 1.0, 0.0, 1.0)), 6) == round((math.log(2.0) + math.log(4.0)) / 2, 6)
    True
    >>> round(float(rpc_estimate(s, 1.0, 0.0, 1.0, form="batch_mean")), 6) == round(math.log(3.0), 6)
    True
    """
    check_scores(scores)
    pos = scores.diagonal()
    if form == "batch_mean":
        return torch.log(torch.clamp(rpc_ratio(pos.double().mean(), alpha, beta, gamma), min=1e-4))
    if form not in RPC_FORMS:
        raise ValueError(f"form must be one of {RPC_FORMS}, got {form!r}")
    e_p = rpc_log_ratio(pos, alpha, beta, gamma).mean()
    if form == "per_sample":
        return e_p
    log_r_neg = rpc_log_ratio(_off_diagonal(scores), alpha, beta, gamma)
    if form == "dv_clip":
        log_r_neg = torch.clamp(log_r_neg, -clip, clip)
    return e_p - _log_mean_exp(log_r_neg)


ESTIMATES = {
    "infonce": infonce_estimate,
    "nwj": nwj_estimate,
    "dv": dv_estimate,
    "js": js_estimate,
    "smile": smile_estimate,
}


def estimate(name: str, scores: Tensor, **knobs) -> Tensor:
    """The MI estimate ``name`` reads off a critic's score matrix."""
    check_scores(scores)
    if name == "rpc":
        return rpc_estimate(scores, **knobs)
    if name not in ESTIMATES:
        raise ValueError(f"unknown estimator {name!r}; choose one of {sorted(ESTIMATES) + ['rpc']}")
    return ESTIMATES[name](scores, **knobs)


def training_loss(name: str, scores: Tensor, **knobs) -> Tensor:
    """The core objective that trains the critic for estimator ``name`` (rpc_plugins.get_objective)."""
    pos, neg, mask = split_scores(scores)
    return get_objective(name, **{k: v for k, v in knobs.items() if k in OBJECTIVE_KNOBS[name]})(pos, neg, mask)


DEFAULT_KNOBS: Dict[str, dict] = {"rpc": dict(alpha=1.0, beta=1e-4, gamma=1.0), "smile": dict(clip=5.0)}
