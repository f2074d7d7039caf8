"""The loss switch shared by both solo-learn APIs: one key picks any rpc_plugins objective."""

from typing import Callable

import rpc_plugins
from rpc_plugins import OBJECTIVES

DEFAULTS = dict(loss="rpc", alpha=0.3, beta=0.01, gamma=0.1, normalize=True, smile_clip=5.0, mio_l2_weight=1.0)


def build_loss(
    key: Callable[[str], str],
    loss: str,
    temperature: float,
    alpha: float,
    beta: float,
    gamma: float,
    normalize: bool = True,
    smile_clip: float = 5.0,
    mio_l2_weight: float = 1.0,
):
    """``rpc_plugins.ContrastiveLoss`` for solo's two large crops, negatives gathered across ranks.

    ``key(name)`` spells a setting the way the user wrote it (``--beta`` for solo 1.0.2's argparse,
    ``method_kwargs.beta`` for the hydra API) so errors name the key to fix.
    """
    if loss not in OBJECTIVES:
        raise ValueError(f"{key('loss')}={loss!r} is not a known objective; choose one of {sorted(OBJECTIVES)}")
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma), ("mio_l2_weight", mio_l2_weight)):
        if not value >= 0:
            raise ValueError(f"{key(name)} must be >= 0, got {value}")
    if not temperature > 0:
        raise ValueError(f"{key('temperature')} must be > 0, got {temperature}")
    options = {
        "rpc": dict(alpha=alpha, beta=beta, gamma=gamma),
        "smile": dict(clip=smile_clip),
        "mio": dict(l2_weight=mio_l2_weight),
    }.get(loss, {})
    return rpc_plugins.ContrastiveLoss(
        loss, temperature=temperature, normalize=normalize, gather_distributed=True, **options
    )
