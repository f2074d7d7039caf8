"""Contrastive objectives on critic scores, one calling convention, selectable by name.

Every objective is ``loss = objective(pos, neg, neg_mask=None, **hyperparameters)`` with
``pos (A,)`` the positive score of each anchor, ``neg (A, K)`` its negatives (``-inf`` or a False
in ``neg_mask`` marks an invalid negative) and returns the loss to minimise.

>>> import torch
>>> loss = get_objective("rpc")(torch.randn(4), torch.randn(4, 6), alpha=0.3, beta=0.01, gamma=0.1)
>>> loss.shape
torch.Size([])
"""

from typing import Callable, Dict

from .dv import dv_loss
from .infonce import infonce_loss
from .js import js_loss
from ..knobs import OBJECTIVE_HYPERPARAMETERS, OBJECTIVE_KNOBS, objective_options
from .mio import mio_loss
from .nwj import nwj_loss
from .rpc import rpc_loss
from .smile import smile_loss

OBJECTIVES: Dict[str, Callable] = {
    "rpc": rpc_loss,
    "infonce": infonce_loss,
    "nwj": nwj_loss,
    "js": js_loss,
    "dv": dv_loss,
    "smile": smile_loss,
    "mio": mio_loss,
}


def get_objective(name: str) -> Callable:
    """The objective registered under ``name`` (ValueError listing the valid names otherwise)."""
    try:
        return OBJECTIVES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown objective {name!r}; choose one of {sorted(OBJECTIVES)}") from None


__all__ = [
    "OBJECTIVES",
    "OBJECTIVE_HYPERPARAMETERS",
    "OBJECTIVE_KNOBS",
    "objective_options",
    "get_objective",
    "rpc_loss",
    "infonce_loss",
    "nwj_loss",
    "js_loss",
    "dv_loss",
    "smile_loss",
    "mio_loss",
]
