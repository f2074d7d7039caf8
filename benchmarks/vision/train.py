"""Training loops of the vision benchmark: contrastive pretraining and the supervised ceiling.

Both see a fixed number of training images (``samples``: the compute budget, equal for every
objective and batch size), draw batches with replacement from a seeded generator, and build the same
two augmented views per image as SimCLR (Chen et al. 2020). Divergence = a non-finite loss or weight, or
a loss that refuses non-finite scores (rpc_plugins raises a ValueError naming them).
``bf16=True`` runs the backbone and head under bfloat16 autocast (CPU AMX or GPU tensor cores); the
objective and the optimiser stay in float32, the same for every objective.

>>> import torch
>>> x = torch.rand(64, 1, 28, 28)
>>> out = pretrain(lambda: __import__("rpc_plugins").RPCLoss(), x, batch_size=32, lr=1e-3, samples=64, seed=0,
...                device="cpu", backbone_name="cnn")
>>> len(out["losses"]), out["diverged"]
(2, False)
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.harness.augment import augment
from benchmarks.harness.precision import mixed_precision
from benchmarks.harness.optim import make_optimizer
from benchmarks.vision.models import build_model


def _loop(step_loss, params, x, batch_size, lr, samples, seed, device, optimizer):
    """Shared loop: returns (losses, diverged); syncs with the device every 50 steps only."""
    opt = make_optimizer(optimizer, params, lr)
    g = torch.Generator(device=device).manual_seed(seed)
    gi = torch.Generator().manual_seed(seed)
    steps = max(1, samples // batch_size)
    losses, pending = [], []
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=gi).to(device)
        try:
            loss = step_loss(idx, g)
        except ValueError as error:  # rpc_plugins names non-finite scores instead of returning NaN
            if "NaN or Inf" not in str(error):
                raise
            return losses + [float("nan")], True
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        pending.append(loss.detach())
        if len(pending) == 50 or step == steps - 1:
            losses += torch.stack(pending).float().cpu().tolist()
            pending = []
            if not all(math.isfinite(v) for v in losses[-50:]):
                return losses, True
    return losses, not all(torch.isfinite(p).all() for p in params)


def pretrain(objective, x, batch_size, lr, samples, seed, device, backbone_name, optimizer="adam", bf16=False):
    """{"backbone", "losses", "diverged"} after self-supervised training with ``objective()``."""
    torch.manual_seed(seed)
    backbone, head = build_model(backbone_name)
    backbone, head = backbone.to(device), head.to(device)
    loss_fn = objective().to(device)
    backbone.train(), head.train()

    def step_loss(idx, g):
        xb = x[idx]
        with mixed_precision(device, bf16):
            z0, z1 = head(backbone(augment(xb, g))), head(backbone(augment(xb, g)))
        return loss_fn(z0.float(), z1.float())

    params = list(backbone.parameters()) + list(head.parameters())
    losses, diverged = _loop(step_loss, params, x, batch_size, lr, samples, seed, device, optimizer)
    return dict(backbone=backbone, losses=losses, diverged=diverged)


def supervised(x, y, batch_size, lr, samples, seed, device, backbone_name, optimizer="adam", classes=10, bf16=False):
    """The supervised ceiling: the same backbone trained with cross-entropy on labelled augmented
    images (same budget and optimiser), then probed frozen like every other encoder."""
    torch.manual_seed(seed)
    backbone, _ = build_model(backbone_name)
    backbone = backbone.to(device)
    clf = nn.Linear(backbone.num_features, classes).to(device)
    backbone.train()

    def step_loss(idx, g):
        with mixed_precision(device, bf16):
            logits = clf(backbone(augment(x[idx], g)))
        return F.cross_entropy(logits.float(), y[idx])

    params = list(backbone.parameters()) + list(clf.parameters())
    losses, diverged = _loop(step_loss, params, x, batch_size, lr, samples, seed, device, optimizer)
    return dict(backbone=backbone, losses=losses, diverged=diverged)


def random_init(seed, device, backbone_name):
    """The untrained backbone (the random-init baseline), seeded like a pretraining run."""
    torch.manual_seed(seed)
    backbone, _ = build_model(backbone_name)
    return dict(backbone=backbone.to(device), losses=[], diverged=False)
