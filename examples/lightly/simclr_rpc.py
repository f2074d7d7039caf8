"""lightly's SimCLR recipe with RPC as the loss: the one-line swap, on a timm backbone.

Compared with lightly's own SimCLR example (examples/pytorch_lightning/simclr.py), two lines change:

    criterion = NTXentLoss()                      ->  criterion = rpc_lightly.RPCLoss()
    backbone = torchvision resnet18 (no fc)       ->  backbone = rpc_timm.create_backbone("resnet18", ...)

Runs on scikit-learn's digits (upsampled to 32x32) so it works offline; swap `digits_dataset` for your
own dataset of (view0, view1) pairs, e.g. lightly's LightlyDataset with a SimCLRTransform.

    python examples/lightly/simclr_rpc.py --max-steps 3 --batch-size 32  # CPU smoke, under a minute
    python examples/lightly/simclr_rpc.py                                # 200 steps; use a GPU (resnet18 at 32 px)
    python examples/lightly/simclr_rpc.py --loss ntxent                  # lightly's NTXentLoss, same harness
    python examples/lightly/simclr_rpc.py --memory-bank 4096             # MoCo-style bank negatives
"""

import argparse

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead

import rpc_lightly
import rpc_timm


class TwoViews(torch.utils.data.Dataset):
    """Two random augmentations (shift, brightness, noise) of each image."""

    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def view(self, x):
        dx, dy = torch.randint(0, 7, (2,))
        x = F.pad(x, (3, 3, 3, 3))[:, dy : dy + 32, dx : dx + 32]
        return x * (0.7 + 0.6 * torch.rand(1)) + 0.05 * torch.randn_like(x)

    def __getitem__(self, i):
        x = self.images[i]
        return self.view(x), self.view(x)


def digits_dataset():
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 16.0
    return TwoViews(F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False))


class SimCLR(pl.LightningModule):
    def __init__(self, backbone_name, criterion, lr):
        super().__init__()
        self.backbone = rpc_timm.create_backbone(backbone_name, in_chans=1, small_input=True)
        self.projection_head = SimCLRProjectionHead(self.backbone.num_features, 512, 128)
        self.criterion, self.lr = criterion, lr

    def forward(self, x):
        return self.projection_head(self.backbone(x))

    def training_step(self, batch, batch_idx):
        x0, x1 = batch
        loss = self.criterion(self(x0), self(x1))
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def make_criterion(name, memory_bank, gather):
    bank = (memory_bank, 128) if memory_bank else 0
    if name == "rpc":
        return rpc_lightly.RPCLoss(memory_bank_size=bank, gather_distributed=gather)
    if name == "ntxent":
        return NTXentLoss(temperature=0.5, memory_bank_size=bank, gather_distributed=gather)
    return rpc_lightly.ContrastiveLoss(name, memory_bank_size=bank, gather_distributed=gather)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loss", default="rpc", help="rpc, ntxent, or an rpc_plugins objective (infonce, mio, js, ...)")
    p.add_argument("--backbone", default="resnet18", help="any timm model name")
    p.add_argument("--memory-bank", type=int, default=0, help="bank size M (negatives = the last M out1)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.06)
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--devices", type=int, default=1, help=">1: ddp with gather_distributed=True")
    args = p.parse_args()
    loader = torch.utils.data.DataLoader(digits_dataset(), batch_size=args.batch_size, shuffle=True, drop_last=True)
    model = SimCLR(args.backbone, make_criterion(args.loss, args.memory_bank, args.devices > 1), args.lr)
    trainer = pl.Trainer(
        max_steps=args.max_steps,
        accelerator="auto",
        devices=args.devices,
        logger=False,
        enable_checkpointing=False,
        **({"strategy": "ddp"} if args.devices > 1 else {}),
    )
    trainer.fit(model, loader)


if __name__ == "__main__":
    main()
