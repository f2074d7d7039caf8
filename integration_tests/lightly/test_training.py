"""Real training: lightly's SimCLRProjectionHead on a timm backbone, PyTorch Lightning's Trainer,
RPC and lightly's NTXentLoss in the same harness, on scikit-learn's digits."""

import pytest
import pytorch_lightning as pl
import torch
from lightly.loss import NTXentLoss

import rpc_lightly
import rpc_timm
from integration_tests.lightly._modules import SimCLR, digits_tensor


def fit(loss_fn, steps=12, backbone="resnet18"):
    torch.manual_seed(0)
    model = rpc_lightly.SimCLRModel(
        rpc_timm.create_backbone(backbone, in_chans=1, small_input=True), hidden_dim=128, output_dim=32
    )
    module = SimCLR(model, loss_fn, lr=0.05)
    x, _ = digits_tensor(size=16)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:64]), batch_size=64)
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, loader)
    return module.losses


@pytest.mark.parametrize(
    "name,loss_fn",
    [
        ("rpc", rpc_lightly.RPCLoss(temperature=0.5)),
        ("ntxent", NTXentLoss(temperature=0.5)),
    ],
)
def test_simclr_on_timm_backbone_trains(name, loss_fn):
    losses = fit(loss_fn)
    assert len(losses) == 12
    assert all(torch.isfinite(torch.tensor(losses))), name
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, f"{name}: loss did not fall: {losses}"


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_b0", "vit_tiny_patch16_224"])
def test_small_image_backbones(name):
    kwargs = {"img_size": 32} if name.startswith("vit") else {}
    backbone = rpc_timm.create_backbone(name, in_chans=1, small_input=True, **kwargs)
    out = rpc_lightly.SimCLRModel(backbone, output_dim=16)(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 16)
    assert (
        backbone(
            torch.randn(2, 1, 28 if not name.startswith("vit") else 32, 28 if not name.startswith("vit") else 32)
        ).shape[1]
        == backbone.num_features
    )


def test_pretrained_weights_refused():
    with pytest.raises(ValueError, match="pretrained"):
        rpc_timm.create_backbone("resnet18", pretrained=True)
