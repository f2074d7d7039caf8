"""lightly's MoCo (memory bank of momentum keys) with the loss switched: one line, any rpc_plugins objective.

This is lightly's own MoCo recipe
(examples/pytorch/moco.py: ``MoCoProjectionHead``, a momentum copy updated by ``update_momentum`` on
``cosine_schedule``, ``NTXentLoss(memory_bank_size=(M, 128))``) where only the criterion changes:

    criterion = NTXentLoss(temperature=0.1, memory_bank_size=(4096, 128))
    criterion = rpc_lightly.ContrastiveLoss("rpc", temperature=0.1, memory_bank_size=(4096, 128))

With a bank, lightly's semantics hold: anchors the queries, the positive of query i is key i, the negatives are the
bank's past keys only (MoCo's queue); ``"infonce"`` equals NTXentLoss step for step
(integration_tests/lightly/test_switch_moco.py). Runs offline on scikit-learn's digits with a small CNN:

    python examples/lightly/moco_switch.py --loss rpc --steps 50        # or ntxent, infonce, mio, nwj, js, dv, smile
"""

import argparse
import copy

import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss
from lightly.models.modules import MoCoProjectionHead
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule
from torch import nn

import rpc_lightly


def small_cnn(width=32):
    """A 3-layer CNN for 1-channel 16x16 digits (stands in for lightly's torchvision ResNet)."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


class MoCo(nn.Module):
    """lightly's MoCo module: backbone + MoCoProjectionHead, and their momentum copies (no gradients)."""

    def __init__(self, backbone, feature_dim, out_dim=128):
        super().__init__()
        self.backbone = backbone
        self.projection_head = MoCoProjectionHead(feature_dim, 128, out_dim)
        self.backbone_momentum = copy.deepcopy(self.backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_head_momentum)

    def forward(self, x):
        return self.projection_head(self.backbone(x).flatten(start_dim=1))

    def forward_momentum(self, x):
        return self.projection_head_momentum(self.backbone_momentum(x).flatten(start_dim=1)).detach()


def make_criterion(loss, bank_size, temperature=0.1, out_dim=128, **options):
    """lightly's NTXentLoss (``loss="ntxent"``) or the drop-in ``rpc_lightly.ContrastiveLoss(loss)``, same bank."""
    bank = (bank_size, out_dim)
    if loss == "ntxent":
        return NTXentLoss(temperature=temperature, memory_bank_size=bank)
    return rpc_lightly.ContrastiveLoss(loss, temperature=temperature, memory_bank_size=bank, **options)


def digits(size=16):
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 16.0
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def augment(x, g):
    """Random shift, brightness and noise: the two views."""
    n, _, h, w = x.shape
    dx, dy = torch.randint(0, 5, (2,), generator=g)
    x = F.pad(x, (2, 2, 2, 2))[:, :, dy : dy + h, dx : dx + w] * (0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=g))
    return x + 0.05 * torch.randn(x.shape, generator=g)


def train(loss="rpc", steps=20, batch_size=64, bank_size=512, lr=0.06, seed=0, **options):
    """lightly's MoCo training loop; returns (model, per-step losses)."""
    torch.manual_seed(seed)
    model = MoCo(small_cnn(), 64)
    criterion = make_criterion(loss, bank_size, **options)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    images, g, losses = digits(), torch.Generator().manual_seed(seed), []
    for step in range(steps):
        x = images[torch.randint(0, len(images), (batch_size,), generator=g)]
        momentum = cosine_schedule(step, steps, 0.996, 1)
        update_momentum(model.backbone, model.backbone_momentum, m=momentum)
        update_momentum(model.projection_head, model.projection_head_momentum, m=momentum)
        query, key = model(augment(x, g)), model.forward_momentum(augment(x, g))
        value = criterion(query, key)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses.append(float(value))
    return model, losses


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loss", default="rpc", help="ntxent (lightly) or an rpc_plugins objective")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--bank-size", type=int, default=512)
    args = p.parse_args()
    _, losses = train(args.loss, args.steps, bank_size=args.bank_size)
    print(f"{args.loss}: loss {losses[0]:.4f} -> {losses[-1]:.4f} after {args.steps} steps")


if __name__ == "__main__":
    main()
