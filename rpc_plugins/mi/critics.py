"""Critics for MI estimation: separable g(x)^T h(y) and concat MLP([x, y]) (Poole et al. 2019)."""
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
    """scores[i, j] = MLP([x_i, y_j]): B x B scores from B^2 network passes.

    >>> ConcatCritic(3, 3, hidden=8)(torch.randn(5, 3), torch.randn(5, 3)).shape
    torch.Size([5, 5])
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 512, layers: int = 2):
        super().__init__()
        self.net = mlp(x_dim + y_dim, hidden, 1, layers)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        b = x.shape[0]
        pairs = torch.cat([x[:, None, :].expand(b, b, -1), y[None, :, :].expand(b, b, -1)], dim=-1)
        return self.net(pairs).squeeze(-1)
