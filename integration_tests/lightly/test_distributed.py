"""lightly's own check (tests/utils/test_dist__gather__losses.py): two gloo processes with
gather_distributed=True end training with the same parameters as one process on the whole batch."""

import os

import pytest
import pytorch_lightning as pl
import torch

from integration_tests.lightly._modules import LinearPairs, make_loss, pair_dataset


def train(loss_name, devices, tmp_path):
    module = LinearPairs(make_loss(loss_name, gather=devices > 1))
    loader = torch.utils.data.DataLoader(pair_dataset(16), batch_size=16 // devices, shuffle=False)
    trainer = pl.Trainer(
        max_epochs=3,
        accelerator="cpu",
        devices=devices,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        **({"strategy": "ddp_spawn"} if devices > 1 else {}),
    )
    trainer.fit(module, loader)
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("loss_name", ["rpc", "infonce"])
def test_two_processes_equal_one(loss_name, tmp_path, monkeypatch):
    monkeypatch.setenv("MASTER_PORT", str(29500 + os.getpid() % 1000 + (7 if loss_name == "rpc" else 0)))
    single = train(loss_name, 1, tmp_path)
    double = train(loss_name, 2, tmp_path)
    for a, b in zip(single, double):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(single[0], LinearPairs(make_loss(loss_name, False)).layer.weight)  # it trained
