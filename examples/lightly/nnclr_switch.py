"""lightly's NNCLR (nearest neighbour from a support set as the positive) with the loss switched: one line.

This is lightly's own NNCLR recipe
(examples/pytorch/nnclr.py: ``NNCLRProjectionHead``, ``NNCLRPredictionHead``, ``NNMemoryBankModule`` replacing each
projection by its nearest neighbour, ``0.5 * (criterion(nn0, p1) + criterion(nn1, p0))``) where only the criterion
changes:

    criterion = NTXentLoss()
    criterion = rpc_lightly.ContrastiveLoss("rpc", temperature=0.5)

``"infonce"`` equals NTXentLoss step for step (integration_tests/lightly/test_switch_nnclr.py). Offline, on digits:

    python examples/lightly/nnclr_switch.py --loss rpc --steps 50       # or ntxent, infonce, mio, nwj, js, dv, smile
"""

import argparse

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import NNCLRPredictionHead, NNCLRProjectionHead, NNMemoryBankModule
from torch import nn

import rpc_lightly

from moco_switch import augment, digits, small_cnn  # same data and backbone as the MoCo demo (same folder)


class NNCLR(nn.Module):
    """lightly's NNCLR module: backbone, projection head, prediction head; z is returned detached."""

    def __init__(self, backbone, feature_dim, out_dim=128):
        super().__init__()
        self.backbone = backbone
        self.projection_head = NNCLRProjectionHead(feature_dim, 128, out_dim)
        self.prediction_head = NNCLRPredictionHead(out_dim, 128, out_dim)

    def forward(self, x):
        z = self.projection_head(self.backbone(x).flatten(start_dim=1))
        return z.detach(), self.prediction_head(z)


def make_criterion(loss, temperature=0.5, **options):
    """lightly's NTXentLoss (``loss="ntxent"``, its default T 0.5) or ``rpc_lightly.ContrastiveLoss(loss)``."""
    if loss == "ntxent":
        return NTXentLoss(temperature=temperature)
    return rpc_lightly.ContrastiveLoss(loss, temperature=temperature, **options)


def train(loss="rpc", steps=20, batch_size=64, bank_size=512, lr=0.06, seed=0, **options):
    """lightly's NNCLR training loop; returns (model, per-step losses)."""
    torch.manual_seed(seed)
    model = NNCLR(small_cnn(), 64)
    memory_bank = NNMemoryBankModule(size=(bank_size, 128))
    criterion = make_criterion(loss, **options)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    images, g, losses = digits(), torch.Generator().manual_seed(seed), []
    for _ in range(steps):
        x = images[torch.randint(0, len(images), (batch_size,), generator=g)]
        (z0, p0), (z1, p1) = model(augment(x, g)), model(augment(x, g))
        z0 = memory_bank(z0, update=False)
        z1 = memory_bank(z1, update=True)
        value = 0.5 * (criterion(z0, p1) + criterion(z1, p0))
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses.append(float(value))
    return model, losses


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loss", default="rpc", help="ntxent (lightly) or an rpc_plugins objective")
    p.add_argument("--steps", type=int, default=50)
    args = p.parse_args()
    _, losses = train(args.loss, args.steps)
    print(f"{args.loss}: loss {losses[0]:.4f} -> {losses[-1]:.4f} after {args.steps} steps")


if __name__ == "__main__":
    main()
