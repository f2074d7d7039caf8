"""The correlated-Gaussian MI tasks of Poole et al. (2019), used by Song & Ermon (2020) and Tsai et al. (2021).

x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) eps: MI = -(d/2) log(1 - rho^2). The cubic task feeds
y^3 (an invertible map: same MI).
"""
import math
from typing import Tuple

import torch
from torch import Tensor


def rho_for_mi(mi: float, dim: int = 20) -> float:
    """>>> round(gaussian_mi(rho_for_mi(4.0)), 10)
    4.0
    """
    if mi < 0:
        raise ValueError(f"mi must be >= 0, got {mi}")
    return math.sqrt(1.0 - math.exp(-2.0 * mi / dim))


def gaussian_mi(rho: float, dim: int = 20) -> float:
    return -0.5 * dim * math.log(1.0 - rho ** 2)


def sample(batch: int, mi: float, dim: int = 20, cubic: bool = False, generator=None) -> Tuple[Tensor, Tensor]:
    rho = rho_for_mi(mi, dim)
    x = torch.randn(batch, dim, generator=generator)
    y = rho * x + math.sqrt(1.0 - rho ** 2) * torch.randn(batch, dim, generator=generator)
    return x, (y ** 3 if cubic else y)
