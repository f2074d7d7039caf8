"""Every objective's knobs (hyperparameters) and their defaults, declared once.

Adapters and losses read them from here: ``OBJECTIVE_KNOBS[name]`` maps each knob to its default,
``objective_options(name, options)`` resolves and checks a config, and ``OBJECTIVE_HYPERPARAMETERS``
names the knobs the objective's function on scores takes as keyword arguments. MIO's knobs act on
the pairs, not on the scores (``ContrastiveLoss``: a temperature for the positives and one for the
negatives, and the weight of an MSE between the two views' normalised embeddings), so its function on
scores takes none of them.

>>> OBJECTIVE_KNOBS["rpc"]
{'alpha': 0.3, 'beta': 0.01, 'gamma': 0.1}
>>> objective_options("mio", {"l2_weight": 0.5}, temperature=0.2)
{'pos_temperature': 0.2, 'neg_temperature': 0.2, 'l2_weight': 0.5}
"""

from typing import Dict, Mapping, Optional, Tuple

from ._validation import check_nonnegative, check_positive

# RPC's relative parameters: the paper's ImageNet ResNet-50 values (``RPCLoss.from_paper`` has the others).
RPC_DEFAULTS: Dict[str, float] = {"alpha": 0.3, "beta": 0.01, "gamma": 0.1}
SMILE_DEFAULTS: Dict[str, float] = {"clip": 5.0}
# None: the critic's own temperature (the two-view loss's ``temperature``).
MIO_DEFAULTS: Dict[str, Optional[float]] = {"pos_temperature": None, "neg_temperature": None, "l2_weight": 1.0}

OBJECTIVE_KNOBS: Dict[str, Mapping[str, Optional[float]]] = {
    "rpc": RPC_DEFAULTS,
    "infonce": {},
    "nwj": {},
    "js": {},
    "dv": {},
    "smile": SMILE_DEFAULTS,
    "mio": MIO_DEFAULTS,
}

_PAIR_KNOBS = {"mio": tuple(MIO_DEFAULTS)}  # knobs that act on the pairs, not on the scores

# The knobs each objective's function on scores takes (adapters use this to pass a config's options on).
OBJECTIVE_HYPERPARAMETERS: Dict[str, Tuple[str, ...]] = {
    name: tuple(k for k in knobs if k not in _PAIR_KNOBS.get(name, ())) for name, knobs in OBJECTIVE_KNOBS.items()
}


def objective_options(name: str, options: Mapping[str, float], temperature: Optional[float] = None) -> Dict[str, float]:
    """Every knob of objective ``name``: ``options`` over the defaults, checked (ValueError naming an
    unknown knob or a bad value). MIO's temperatures default to ``temperature``."""
    if name not in OBJECTIVE_KNOBS:
        raise ValueError(f"unknown objective {name!r}; choose one of {sorted(OBJECTIVE_KNOBS)}")
    knobs = OBJECTIVE_KNOBS[name]
    unknown = sorted(set(options) - set(knobs))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for objective {name!r}; it accepts {list(knobs)}")
    resolved: Dict[str, float] = {}
    for knob, default in knobs.items():
        value = options.get(knob, default if default is not None else temperature)
        if value is None:
            raise ValueError(f"objective {name!r}: {knob} defaults to the critic's temperature; pass {knob}=")
        resolved[knob] = value
    if name == "rpc":
        check_nonnegative(**resolved)
    elif name == "smile":
        check_positive(**resolved)
    elif name == "mio":
        check_positive(pos_temperature=resolved["pos_temperature"], neg_temperature=resolved["neg_temperature"])
        check_nonnegative(l2_weight=resolved["l2_weight"])
    return {k: float(v) for k, v in resolved.items()}


def score_options(name: str, options: Mapping[str, float]) -> Dict[str, float]:
    """The part of ``options`` that objective ``name``'s function on scores takes."""
    return {k: v for k, v in options.items() if k in OBJECTIVE_HYPERPARAMETERS.get(name, ())}
