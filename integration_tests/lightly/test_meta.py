"""rpc_lightly's losses, forward and backward on ``meta`` tensors: no value read back on the host and no tensor
made off the embeddings' device (``integration_tests/device_checks.py``), with and without lightly's memory bank.

The memory bank is lightly's own ``MemoryBankModule``: its pointer ``bank_ptr`` is read with ``int()`` by lightly
itself (as for lightly's NTXentLoss with a bank), so that one tensor is kept on the CPU and allowed.
RPC: Tsai et al., ICLR 2021, arXiv 2103.11275.
"""

import pytest
import torch

import rpc_plugins
from rpc_lightly import ContrastiveLoss

from integration_tests.device_checks import OnDevice


def views(n=16, d=8):
    out0 = torch.empty(n, d, device="meta", requires_grad=True)
    out1 = torch.empty(n, d, device="meta", requires_grad=True)
    return out0, out1


@pytest.mark.parametrize("objective", sorted(rpc_plugins.OBJECTIVES))
def test_in_batch_loss_on_meta(objective):
    out0, out1 = views()
    loss_fn = ContrastiveLoss(objective, temperature=0.2).to("meta")  # built first, as a model is, then moved
    with OnDevice("meta") as mode:
        loss = loss_fn(out0, out1)
        loss.backward()
    assert mode.off_device == [], mode.off_device[:5]
    assert loss.device.type == "meta" and loss.dim() == 0
    assert out0.grad.device.type == "meta" and out1.grad.device.type == "meta"


@pytest.mark.parametrize("objective", sorted(rpc_plugins.OBJECTIVES))
def test_memory_bank_loss_on_meta(objective):
    out0, out1 = views()
    loss_fn = ContrastiveLoss(objective, temperature=0.2, memory_bank_size=(64, 8)).to("meta")
    bank = loss_fn.memory_bank
    bank.bank_ptr = torch.zeros_like(bank.bank_ptr, device="cpu")  # lightly reads it with int()
    for _ in range(5):  # past the bank's end: lightly wraps its pointer around
        with OnDevice("meta", allow=[bank.bank_ptr]) as mode:
            loss = loss_fn(out0, out1)
            loss.backward()
        assert mode.off_device == [], mode.off_device[:5]
        assert loss.device.type == "meta" and out0.grad.device.type == "meta"
