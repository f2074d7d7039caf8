"""Train a critic with any objective on a stream of batches and read off MI estimates per step
(the training loop of Poole et al. 2019 / Song & Ermon 2020 / Tsai et al. 2021's MI notebooks)."""

import math
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import torch
from torch import Tensor, nn

from .estimators import DEFAULT_KNOBS, estimate, training_loss


def train_critic(
    critic: nn.Module,
    objective: str,
    batches: Iterator[Tuple[Tensor, Tensor]],
    steps: int,
    lr: float = 1e-3,
    readouts: Optional[Dict[str, Callable[[Tensor], Tensor]]] = None,
    on_step: Optional[Callable[[int, Dict[str, List[float]]], None]] = None,
    **knobs,
) -> Dict[str, List[float]]:
    """Adam on ``training_loss(objective, critic(x, y))`` for ``steps`` batches.

    Returns the trace of every readout (default: the objective's own estimator) per step, each read
    on the step's scores before the update (as in the authors' notebooks). A step whose scores are
    not finite (a diverged critic) stops training: that step and every later one read NaN.
    ``on_step(step, trace)`` is called after every step (progress reports).

    >>> from rpc_plugins.mi import SeparableCritic, gaussian
    >>> g = torch.Generator().manual_seed(0)
    >>> data = iter(lambda: gaussian.sample(64, 2.0, generator=g), None)
    >>> trace = train_critic(SeparableCritic(20, 20, hidden=32, embed=8), "infonce", data, steps=5)
    >>> len(trace["infonce"])
    5
    """
    knobs = {**DEFAULT_KNOBS.get(objective, {}), **knobs}
    readouts = readouts or {objective: lambda s: estimate(objective, s, **knobs)}
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    trace: Dict[str, List[float]] = {name: [] for name in readouts}
    diverged = False
    for step in range(steps):
        if not diverged:
            x, y = next(batches)
            scores = critic(x, y)
            diverged = not bool(torch.isfinite(scores).all())
        if diverged:
            for name in readouts:
                trace[name].append(math.nan)
        else:
            loss = training_loss(objective, scores, **knobs)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for name, read in readouts.items():
                    trace[name].append(float(read(scores.detach())))
        if on_step is not None:
            on_step(step, trace)
    return trace
