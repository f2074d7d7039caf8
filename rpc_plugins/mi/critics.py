"""Critics for MI estimation (Poole et al. 2019; Song & Ermon 2020; Tsai et al. 2021).

* ``SeparableCritic``: f(x, y) = g(x)^T h(y), B x B scores from 2B network passes.
* ``ConcatCritic``: f(x, y) = MLP([x, y]) on all B x B pairs (the authors' MI critic, 40 -> 512 -> 512 -> 1).
  The first layer is linear in the concatenation, W [x; y] + b = W_x x + W_y y + b, so it is computed
  on the B rows of x and the B rows of y and broadcast-added: the same function as concatenating
  B^2 pairs (``ConcatCritic.naive`` does that, for tests) at a fraction of the first layer's cost.
* ``RPCRatioHead``: wraps a critic whose output u is read as a log density ratio and returns the RPC
  score f = (e^u - alpha) / (beta e^u + gamma), the optimal RPC critic written as a function of
  log r (Tsai et al. 2021, eq. 3). f stays inside the optimal critic's range (-alpha/gamma, 1/beta),
  and RPC's inversion r(f) = (gamma f + alpha) / (1 - beta f) gives back exactly e^u.
"""

import torch
from torch import Tensor, nn


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 2) -> nn.Sequential:
    mods, d = [], in_dim
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    return nn.Sequential(*mods, nn.Linear(d, out_dim))


class SeparableCritic(nn.Module):
    """scores[i, j] = g(x_i) . h(y_j): B x B scores from 2B network passes.

    >>> SeparableCritic(3, 3, hidden=8, embed=4)(torch.randn(5, 3), torch.randn(5, 3)).shape
    torch.Size([5, 5])
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 256, embed: int = 32, layers: int = 2):
        super().__init__()
        self.g, self.h = mlp(x_dim, hidden, embed, layers), mlp(y_dim, hidden, embed, layers)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.g(x) @ self.h(y).t()


class ConcatCritic(nn.Module):
    """scores[i, j] = MLP([x_i, y_j]) on all B x B pairs (Poole et al. 2019's concat critic).

    ``net`` is a plain ``nn.Sequential`` MLP on the concatenation; ``forward`` evaluates its first
    linear layer as x W_x^T + y W_y^T + b (B rows each, broadcast to B x B), which is exactly
    ``net([x_i, y_j])``; ``naive`` builds the B^2 concatenated rows.

    >>> c = ConcatCritic(3, 3, hidden=8)
    >>> x, y = torch.randn(5, 3), torch.randn(5, 3)
    >>> c(x, y).shape
    torch.Size([5, 5])
    >>> torch.allclose(c(x, y), c.naive(x, y), atol=1e-6)
    True
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 512, layers: int = 2):
        super().__init__()
        self.x_dim = x_dim
        self.net = mlp(x_dim + y_dim, hidden, 1, layers)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        first = self.net[0]
        assert isinstance(first, nn.Linear)
        w_x, w_y = first.weight[:, : self.x_dim], first.weight[:, self.x_dim :]
        h = (x @ w_x.t() + first.bias)[:, None, :] + (y @ w_y.t())[None, :, :]  # (B, B, hidden)
        return self.net[1:](h).squeeze(-1)

    def naive(self, x: Tensor, y: Tensor) -> Tensor:
        b = x.shape[0]
        pairs = torch.cat([x[:, None, :].expand(b, y.shape[0], -1), y[None, :, :].expand(b, -1, -1)], dim=-1)
        return self.net(pairs).squeeze(-1)


def rpc_score_from_log_ratio(u: Tensor, alpha: float, beta: float, gamma: float) -> Tensor:
    """f = (e^u - alpha) / (beta e^u + gamma), evaluated without overflow for any u.

    With e = exp(-|u|) <= 1: u >= 0 gives (1 - alpha e) / (beta + gamma e), u < 0 gives
    (e - alpha) / (beta e + gamma); both branches are finite everywhere, so gradients are too.

    >>> u = torch.tensor([-3.0, 0.0, 2.0])
    >>> torch.allclose(rpc_score_from_log_ratio(u, 1.0, 1e-2, 1.0), (u.exp() - 1) / (1e-2 * u.exp() + 1))
    True
    """
    if beta <= 0 and gamma <= 0:
        raise ValueError("beta and gamma cannot both be 0")
    e = torch.exp(-u.abs())
    big = (1.0 - alpha * e) / (beta + gamma * e)
    small = (e - alpha) / (beta * e + gamma)
    return torch.where(u >= 0, big, small)


class RPCRatioHead(nn.Module):
    """RPC scores from a critic that outputs a log density ratio u (the "log-ratio head").

    f = (e^u - alpha) / (beta e^u + gamma) is the optimal RPC critic (Tsai et al. 2021) as a function
    of r = e^u, so maximising J_RPC over u still has its optimum at u = log r, and the per-sample
    readout mean_i log r(f_ii) is mean_i u_ii, the KL between the joint and the product of marginals.
    Measured (benchmarks/mi/results_levers.md): with Adam it trains worse than the plain critic, since
    d f / d u = e^u (gamma + alpha beta) / (beta e^u + gamma)^2 weights each pair's gradient by about r, so
    the few largest ratios dominate every step. Kept as a lever, not the default.

    >>> from rpc_plugins.mi import rpc_ratio
    >>> head = RPCRatioHead(ConcatCritic(2, 2, hidden=4), alpha=1.0, beta=1e-4, gamma=1.0)
    >>> x, y = torch.randn(3, 2), torch.randn(3, 2)
    >>> torch.allclose(torch.log(rpc_ratio(head(x, y).double(), 1.0, 1e-4, 1.0)), head.log_ratio(x, y).double(), atol=1e-4)
    True
    """

    def __init__(self, critic: nn.Module, alpha: float, beta: float, gamma: float):
        super().__init__()
        self.critic, self.alpha, self.beta, self.gamma = critic, float(alpha), float(beta), float(gamma)

    def log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        return self.critic(x, y)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return rpc_score_from_log_ratio(self.critic(x, y), self.alpha, self.beta, self.gamma)
