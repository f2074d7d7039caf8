"""The objectives the vision benchmark compares, their defaults and their natural tuning knobs.

RPC: ``rpc_plugins.RPCLoss`` with alpha, beta, gamma and
temperature. NT-Xent (SimCLR, Chen et al. 2020) and DCL (Yeh et al. 2022): lightly's losses when lightly
imports (otherwise NT-Xent is ``rpc_plugins.ContrastiveLoss("infonce")``, which equals it, and DCL is
skipped); temperature. MIO, NWJ, JS, DV: ``rpc_plugins.ContrastiveLoss(name)``; temperature. The
``*-raw-critic`` variants score unnormalised projections like the authors' CIFAR-10 RPC preset (stability
grid only). The benchmark's own loop detects divergence, so rpc_plugins' NaN/Inf check is off here (as
lightly's losses have none).
Every objective also tunes the learning rate (added by the run script, relative to ``--lr``).

>>> spec = SPECS["RPC"]
>>> sorted(spec.space), spec.defaults["alpha"]
(['alpha', 'beta', 'gamma', 'temperature'], 0.3)
>>> loss = make_loss("NT-Xent", {"temperature": 0.2}); type(loss).__name__ in ("NTXentLoss", "ContrastiveLoss")
True
"""

from collections import namedtuple

import rpc_plugins as rp

Spec = namedtuple("Spec", "build defaults space description")
TEMPERATURES = [0.05, 0.1, 0.2, 0.5, 1.0]


def _lightly(name):
    try:
        from lightly import loss
    except Exception:  # lightly absent (e.g. a bare GPU machine)
        return None
    return getattr(loss, name)


def _ntxent(h):
    cls = _lightly("NTXentLoss")
    return cls(temperature=h["temperature"]) if cls else rp.ContrastiveLoss("infonce", temperature=h["temperature"])


def _dcl(h):
    return _lightly("DCLLoss")(temperature=h["temperature"])


def _peer(name):
    return Spec(
        lambda h: rp.ContrastiveLoss(name.lower(), temperature=h["temperature"], check_finite=False),
        {"temperature": 0.5},
        {"temperature": TEMPERATURES},
        f"`rpc_plugins.ContrastiveLoss('{name.lower()}')`",
    )


def _raw_critic(name):
    """``name`` on unnormalised projections, f = <h_i, h_j> / 128: the critic of the authors' CIFAR-10 RPC
    (``hidden_norm=False``, T = 128), given to the peers for the stability grid (not tuned)."""
    objective = "infonce" if name == "InfoNCE" else name.lower()
    return Spec(
        lambda h: rp.ContrastiveLoss(objective, temperature=h["temperature"], normalize=False, check_finite=False),
        {"temperature": 128.0},
        {},
        f"`rpc_plugins.ContrastiveLoss('{objective}', normalize=False)`",
    )


SPECS = {
    "RPC": Spec(
        lambda h: rp.RPCLoss(
            alpha=h["alpha"], beta=h["beta"], gamma=h["gamma"], temperature=h["temperature"], check_finite=False
        ),
        {"alpha": 0.3, "beta": 0.01, "gamma": 0.1, "temperature": 0.1},
        {
            "alpha": [0.1, 0.3, 1.0],
            "beta": [0.001, 0.01, 0.1],
            "gamma": [0.01, 0.1, 1.0],
            "temperature": [0.05, 0.1, 0.2, 0.5],
        },
        "`rpc_plugins.RPCLoss`",
    ),
    "NT-Xent": Spec(_ntxent, {"temperature": 0.5}, {"temperature": TEMPERATURES}, "lightly `NTXentLoss`"),
    "DCL": Spec(_dcl, {"temperature": 0.1}, {"temperature": TEMPERATURES}, "lightly `DCLLoss`"),
    "MIO": _peer("MIO"),
    "NWJ": _peer("NWJ"),
    "JS": _peer("JS"),
    "DV": _peer("DV"),
    "RPC-cifar10-preset": Spec(
        lambda h: rp.RPCLoss.from_paper("cifar10", check_finite=False),
        {},
        {},
        "`RPCLoss.from_paper('cifar10')` (the authors' CIFAR-10 values: raw critic, T = 128; not tuned)",
    ),
}
SPECS.update({f"{n}-raw-critic": _raw_critic(n) for n in ("InfoNCE", "MIO", "NWJ", "JS", "DV")})
BASELINES = ("raw-pixels", "random-init", "supervised")


def available(names):
    """The names that can run here (DCL needs lightly); ValueError for unknown names."""
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        raise ValueError(f"unknown objectives {unknown}; choose from {sorted(SPECS)}")
    ok = [n for n in names if n != "DCL" or _lightly("DCLLoss") is not None]
    if len(ok) < len(names):
        print("lightly not importable: DCL skipped, NT-Xent from rpc_plugins")
    return ok


def make_loss(name, hyper=None):
    """The loss module of ``name`` at its defaults updated with ``hyper`` (forward(out0, out1))."""
    spec = SPECS[name]
    return spec.build(dict(spec.defaults, **(hyper or {})))


def make_objectives(names):
    """name -> zero-argument factory at the defaults (kept for callers of the old run script)."""
    return {n: (lambda n=n: make_loss(n)) for n in available(names)}
