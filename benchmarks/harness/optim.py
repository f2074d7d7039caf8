"""Optimisers by name: Adam, SGD (momentum 0.9) and LARS.

LARS (You, Gitman, Ginsburg, "Large Batch Training of Convolutional Networks", 2017) is what SimCLR and
the RPC paper (Tsai et al., ICLR 2021) pretrain with: SGD with momentum whose per-layer step is scaled
by the trust ratio eta * ||w|| / (||g|| + wd ||w||). As in SimCLR, biases and normalisation parameters
(1-d tensors) get neither weight decay nor the trust ratio.

>>> import torch
>>> w = torch.nn.Parameter(torch.ones(2, 2)); opt = make_optimizer("lars", [w], lr=0.1)
>>> w.grad = torch.ones(2, 2); opt.step(); bool((w < 1).all())
True
"""

import torch

OPTIMIZERS = ("adam", "sgd", "lars")


class LARS(torch.optim.Optimizer):
    """SGD + momentum with layer-wise adaptive rate scaling (You et al. 2017), SimCLR's exclusions."""

    def __init__(self, params, lr, momentum=0.9, weight_decay=1e-6, eta=1e-3):
        if lr <= 0 or not 0 <= momentum < 1 or weight_decay < 0 or eta <= 0:
            raise ValueError(f"bad LARS settings lr={lr} momentum={momentum} weight_decay={weight_decay} eta={eta}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if p.ndim > 1:  # weights: decay and trust ratio; biases / norms: plain momentum SGD
                    g = g.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = p.norm(), g.norm()
                    trust = torch.where(
                        (w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm, torch.ones_like(w_norm)
                    )
                    g = g * trust
                buf = self.state[p].get("momentum")
                if buf is None:
                    buf = self.state[p]["momentum"] = g.clone()
                else:
                    buf.mul_(group["momentum"]).add_(g)
                p.add_(buf, alpha=-group["lr"])
        return loss


def make_optimizer(name, params, lr):
    """'adam' (torch defaults), 'sgd' (momentum 0.9, wd 1e-6) or 'lars' (momentum 0.9, wd 1e-6, eta 1e-3)."""
    params = list(params)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-6)
    if name == "lars":
        return LARS(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose from {OPTIMIZERS}")
