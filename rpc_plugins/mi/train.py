"""Train a critic with any objective on a stream of batches and read off MI estimates."""
from typing import Callable, Dict, Iterator, List, Tuple

import torch
from torch import Tensor, nn

from .estimators import DEFAULT_HYPER, estimate, training_loss


def train_critic(critic: nn.Module, objective: str, batches: Iterator[Tuple[Tensor, Tensor]], steps: int,
                 lr: float = 1e-3, readouts: Dict[str, Callable[[Tensor], Tensor]] = None, **hyper) -> Dict[str, List[float]]:
    """Adam on ``training_loss(objective, critic(x, y))`` for ``steps`` batches.

    Returns the estimate trace of every readout (default: the objective's own estimator) per step.

    >>> from rpc_plugins.mi import SeparableCritic, gaussian
    >>> g = torch.Generator().manual_seed(0)
    >>> data = iter(lambda: gaussian.sample(64, 2.0, generator=g), None)
    >>> trace = train_critic(SeparableCritic(20, 20, hidden=32, embed=8), "infonce", data, steps=5)
    >>> len(trace["infonce"])
    5
    """
    hyper = {**DEFAULT_HYPER.get(objective, {}), **hyper}
    readouts = readouts or {objective: lambda s: estimate(objective, s, **hyper)}
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    trace: Dict[str, List[float]] = {name: [] for name in readouts}
    for _ in range(steps):
        x, y = next(batches)
        scores = critic(x, y)
        loss = training_loss(objective, scores, **hyper)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for name, read in readouts.items():
                trace[name].append(float(read(scores.detach())))
    return trace
