"""LightningModules used by the lightly integration tests (importable by ddp_spawn children)."""

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

import rpc_lightly


def digits_tensor(size=16):
    """scikit-learn's embedded digits as (1797, 1, size, size) floats in [0, 1], and labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False), torch.tensor(d.target)


def augment(x, generator=None):
    """Random shift, brightness jitter and noise (tensor ops only)."""
    n, _, h, w = x.shape
    dx, dy = torch.randint(0, 5, (2,), generator=generator)
    x = F.pad(x, (2, 2, 2, 2))[:, :, dy : dy + h, dx : dx + w]
    x = x * (0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=generator))
    return x + 0.05 * torch.randn(x.shape, generator=generator)


class SimCLR(pl.LightningModule):
    """lightly's SimCLR recipe: backbone + SimCLRProjectionHead, any loss with forward(out0, out1)."""

    def __init__(self, model, loss_fn, lr=0.05):
        super().__init__()
        self.model, self.loss_fn, self.lr = model, loss_fn, lr
        self.losses = []

    def training_step(self, batch, batch_idx):
        (x,) = batch
        g = torch.Generator().manual_seed(1000 + self.global_step)
        loss = self.loss_fn(self.model(augment(x, g)), self.model(augment(x, g)))
        self.losses.append(loss.item())
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


class LinearPairs(pl.LightningModule):
    """A linear projector trained on fixed view pairs: no BatchNorm, so DDP == one process exactly."""

    def __init__(self, loss_fn):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(10, 6)
        self.loss_fn = loss_fn

    def training_step(self, batch, batch_idx):
        x0, x1 = batch
        return self.loss_fn(self.layer(x0), self.layer(x1))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def pair_dataset(n=16):
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(n, 10, generator=g)
    return torch.utils.data.TensorDataset(x0, x0 + 0.3 * torch.randn(n, 10, generator=g))


def make_loss(name, gather):
    if name == "rpc":
        return rpc_lightly.RPCLoss(temperature=0.5, gather_distributed=gather)
    return rpc_lightly.ContrastiveLoss(name, temperature=0.5, gather_distributed=gather)
