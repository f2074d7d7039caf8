"""The optimal RPC critic f* = (r - alpha) / (beta r + gamma) maximises J on a discrete distribution.

Tsai et al. 2021, Lemma 1: with P = p(x, y) and Q = p(x) p(y), J(f) is a pointwise concave
quadratic in f(x, y); its maximiser depends on the density ratio r = p / q only.
"""

import itertools

import pytest
import torch

import rpc_plugins as rp


def discrete_joint(seed, nx=4, ny=5):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(nx, ny, generator=g, dtype=torch.float64) ** 2 + 0.01
    p = p / p.sum()
    q = p.sum(1, keepdim=True) * p.sum(0, keepdim=True)
    return p, q


def expected_objective(f, p, q, alpha, beta, gamma):
    """J(f) with exact expectations: weighted moments (weights p for P and q for Q)."""
    one = torch.tensor(1.0, dtype=torch.float64)
    moments = rp.ScoreMoments((p * f).sum(), (p * f * f).sum(), one, (q * f).sum(), (q * f * f).sum(), one)
    return -rp.rpc_loss_from_moments(moments, alpha, beta, gamma)


@pytest.mark.parametrize("alpha,beta,gamma", [(0.3, 0.01, 0.1), (0.0, 0.001, 1.0), (1.0, 1.0, 1.0), (0.5, 0.2, 2.0)])
@pytest.mark.parametrize("seed", [0, 1])
def test_optimal_critic_maximises_objective(alpha, beta, gamma, seed):
    p, q = discrete_joint(seed)
    r = p / q
    f_star = ((r - alpha) / (beta * r + gamma)).requires_grad_(True)
    j_star = expected_objective(f_star, p, q, alpha, beta, gamma)
    (grad,) = torch.autograd.grad(j_star, f_star)
    assert grad.abs().max() < 1e-12  # stationary point
    g = torch.Generator().manual_seed(seed + 100)
    for _ in range(20):
        other = f_star.detach() + 0.1 * torch.randn(f_star.shape, generator=g, dtype=torch.float64)
        assert expected_objective(other, p, q, alpha, beta, gamma) < j_star
    # bounded as the paper states
    assert f_star.max() <= 1 / beta and f_star.min() >= -alpha / gamma


def test_optimal_critic_beats_every_grid_constant():
    p, q = discrete_joint(3)
    alpha, beta, gamma = 0.3, 0.1, 0.5
    f_star = (p / q - alpha) / (beta * p / q + gamma)
    best = expected_objective(f_star, p, q, alpha, beta, gamma)
    for c in itertools.product([-1.0, 0.0, 1.0, 3.0], repeat=1):
        assert expected_objective(torch.full_like(p, c[0]), p, q, alpha, beta, gamma) < best
