"""Contrastive objectives on critic scores: each declared once, selectable by name.

``OBJECTIVES[name]`` is the objective's declaration (a frozen dataclass, ``objectives._base``): its
fields are its knobs with their defaults and checks, calling an instance is its loss on scores
``(pos (A,), neg (A, K), neg_mask=None)``, and ``without_negatives(pos)`` its rule for a batch with no
negative pair. Everything else here is derived from those declarations.

>>> import torch
>>> loss = get_objective("rpc", alpha=0.3)(torch.randn(4), torch.randn(4, 6))
>>> loss.shape
torch.Size([])
>>> OBJECTIVE_KNOBS["rpc"]
{'alpha': 0.3, 'beta': 0.01, 'gamma': 0.1}
"""

import dataclasses
from typing import Any, Dict, Mapping, Optional, Type

from ._base import Objective
from .dv import DV
from .infonce import InfoNCE
from .js import JS
from .mio import MIO
from .nwj import NWJ
from .rpc import RPC, rpc_loss, rpc_loss_from_moments
from .smile import SMILE

OBJECTIVES: Dict[str, Type[Objective]] = {cls.name: cls for cls in (RPC, InfoNCE, NWJ, JS, DV, SMILE, MIO)}

# Every objective's knobs and their defaults, read off the declarations.
OBJECTIVE_KNOBS: Dict[str, Dict[str, Any]] = {
    name: {f.name: f.default for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for name, cls in OBJECTIVES.items()
}


def get_objective(name: str, temperature: Optional[float] = None, **knobs) -> Objective:
    """The objective ``name`` with ``knobs`` over its defaults, checked: a ValueError names an unknown
    objective, an unknown knob or a bad value. Knobs that default to the critic's temperature (MIO's)
    take ``temperature`` (None without it: they act on the pairs, not on the scores).

    >>> get_objective("mio", temperature=0.2, l2_weight=0.5).knobs()
    {'pos_temperature': 0.2, 'neg_temperature': 0.2, 'l2_weight': 0.5}
    """
    if not isinstance(name, str) or name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose one of {sorted(OBJECTIVES)}")
    declared = OBJECTIVE_KNOBS[name]
    unknown = sorted(set(knobs) - set(declared))
    if unknown:
        raise ValueError(f"unknown knob(s) {unknown} for objective {name!r}; it takes {list(declared)}")
    return OBJECTIVES[name](
        **{k: knobs.get(k, temperature if default is None else default) for k, default in declared.items()}
    )


def objective_options(name: str, options: Mapping[str, Any], temperature: Optional[float] = None) -> Dict[str, Any]:
    """Every knob of objective ``name``: ``options`` over the defaults, checked (``get_objective``).

    >>> objective_options("rpc", {"alpha": 0.5})
    {'alpha': 0.5, 'beta': 0.01, 'gamma': 0.1}
    """
    if "temperature" in options:  # the critic's, not a knob
        raise ValueError(
            f"unknown knob(s) ['temperature'] for objective {name!r}; it takes {list(OBJECTIVE_KNOBS.get(name, {}))}"
        )
    return get_objective(name, temperature, **options).knobs()


__all__ = [
    "Objective",
    "OBJECTIVES",
    "OBJECTIVE_KNOBS",
    "get_objective",
    "objective_options",
    "RPC",
    "InfoNCE",
    "NWJ",
    "JS",
    "DV",
    "SMILE",
    "MIO",
    "rpc_loss",
    "rpc_loss_from_moments",
]
