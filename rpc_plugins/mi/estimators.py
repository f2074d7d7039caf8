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

from ..objectives import get_objective


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
    """Density ratio from the RPC critic: invert f = (r - alpha) / (beta r + gamma).

    r = (gamma f + alpha) / (1 - beta f); valid while f < 1/beta (the optimal critic's bound).
    """
    return (gamma * scores + alpha) / (1.0 - beta * scores)


def rpc_estimate(scores: Tensor, alpha: float, beta: float, gamma: float, form: str = "batch_mean") -> Tensor:
    """MI from a trained RPC critic.

    form="batch_mean": the authors' code, log(clamp(r(mean_i f_ii), 1e-4)).
    form="per_sample": mean_i log clamp(r(f_ii), 1e-4).
    form="dv": E_P[log r] - log E_Q[r] with r clamped to [1e-4, 1e4]: a ratio whose E_Q is not 1
        (finite batch, imperfect critic) is renormalised, the DV correction applied to r.
    """
    check_scores(scores)
    pos = scores.diagonal()
    if form == "batch_mean":
        return torch.log(torch.clamp(rpc_ratio(pos.mean(), alpha, beta, gamma), min=1e-4))
    r_pos = torch.clamp(rpc_ratio(pos, alpha, beta, gamma), 1e-4, 1e4)
    if form == "per_sample":
        return torch.log(r_pos).mean()
    if form == "dv":
        r_neg = torch.clamp(rpc_ratio(_off_diagonal(scores), alpha, beta, gamma), 1e-4, 1e4)
        return torch.log(r_pos).mean() - torch.log(r_neg.mean())
    raise ValueError(f"form must be 'batch_mean', 'per_sample' or 'dv', got {form!r}")


ESTIMATES = {"infonce": infonce_estimate, "nwj": nwj_estimate, "dv": dv_estimate, "js": js_estimate,
             "smile": smile_estimate}


def estimate(name: str, scores: Tensor, **hyper) -> Tensor:
    """The MI estimate ``name`` reads off a critic's score matrix."""
    check_scores(scores)
    if name == "rpc":
        return rpc_estimate(scores, **hyper)
    if name not in ESTIMATES:
        raise ValueError(f"unknown estimator {name!r}; choose one of {sorted(ESTIMATES) + ['rpc']}")
    return ESTIMATES[name](scores, **hyper)


def training_loss(name: str, scores: Tensor, **hyper) -> Tensor:
    """The core objective that trains the critic for estimator ``name`` (rpc_plugins.get_objective)."""
    pos, neg, mask = split_scores(scores)
    keep = {"rpc": ("alpha", "beta", "gamma"), "smile": ("clip",)}.get(name, ())
    return get_objective(name)(pos, neg, mask, **{k: v for k, v in hyper.items() if k in keep})


DEFAULT_HYPER: Dict[str, dict] = {"rpc": dict(alpha=1.0, beta=1e-4, gamma=1.0), "smile": dict(clip=5.0)}
