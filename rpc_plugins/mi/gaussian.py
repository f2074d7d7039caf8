"""The correlated-Gaussian MI tasks of Poole et al. (2019), used by Song & Ermon (2020) and Tsai et al. (2021).

x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) eps: MI = -(d/2) log(1 - rho^2). The cubic task feeds
y^3 (an invertible map: same MI).
"""

import math
from typing import Tuple

import torch
from torch import Tensor


def rho_for_mi(mi: float, dim: int = 20) -> float:
    """The correlation that gives ``mi`` nats in ``dim`` dimensions.

    >>> round(gaussian_mi(rho_for_mi(4.0)), 10)
    4.0
    """
    if mi < 0:
        raise ValueError(f"mi must be >= 0, got {mi}")
    return math.sqrt(1.0 - math.exp(-2.0 * mi / dim))


def gaussian_mi(rho: float, dim: int = 20) -> float:
    return -0.5 * dim * math.log(1.0 - rho**2)


def sample(batch: int, mi: float, dim: int = 20, cubic: bool = False, generator=None) -> Tuple[Tensor, Tensor]:
    rho = rho_for_mi(mi, dim)
    x = torch.randn(batch, dim, generator=generator)
    y = rho * x + math.sqrt(1.0 - rho**2) * torch.randn(batch, dim, generator=generator)
    return x, (y**3 if cubic else y)


def log_ratio(x: Tensor, y: Tensor, mi: float, dim: int = 20, cubic: bool = False) -> Tensor:
    """The true log density ratio log p(x_i, y_j) / (p(x_i) p(y_j)) for every pair: the optimal critic's
    target, (B, B) in float64. For the cubic task y is first mapped back through the cube root (an
    invertible map leaves the ratio unchanged). Per dimension, with rho the correlation:

        log r = -1/2 log(1 - rho^2) - (rho^2 (x^2 + y^2) - 2 rho x y) / (2 (1 - rho^2)).

    E_P[log r] = mi and Var_P[log r] = dim * rho^2 (the per-sample readout's sampling floor).

    >>> x, y = sample(4000, 3.0, dim=5, generator=torch.Generator().manual_seed(0))
    >>> round(float(log_ratio(x, y, 3.0, dim=5).diagonal().mean()), 1)
    3.0
    """
    if x.shape[1] != dim or y.shape[1] != dim:
        raise ValueError(f"x and y must have {dim} columns, got {tuple(x.shape)} and {tuple(y.shape)}")
    rho = rho_for_mi(mi, dim)
    x, y = x.double(), y.double()
    if cubic:
        y = torch.sign(y) * y.abs() ** (1.0 / 3.0)
    quad = rho**2 * ((x * x).sum(1)[:, None] + (y * y).sum(1)[None, :]) - 2.0 * rho * (x @ y.t())
    return mi - quad / (2.0 * (1.0 - rho**2))
