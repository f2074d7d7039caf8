"""Every collective of rpc_lightly's losses and of the core's distributed paths is handed tensors on the
embeddings' device (NCCL refuses CPU tensors), and the distributed paths read no value back either.

torch.distributed runs on torch's ``fake`` backend with world size 2 in this one process (no data moves), the
embeddings are ``meta`` tensors, and ``recorded_collectives`` records the device of every tensor handed to a
collective (``integration_tests/device_checks.py``). Covered: ``rpc_lightly.ContrastiveLoss(gather_distributed=True)``
for every objective, with lightly's memory bank gathering across ranks, and the core's ``RPCLoss`` in
``distributed_mode`` "gather" and "moments". RPC: Tsai et al., ICLR 2021, arXiv 2103.11275.
"""

import pytest
import torch

import rpc_plugins
from rpc_lightly import ContrastiveLoss

from integration_tests.device_checks import OnDevice, fake_process_group, recorded_collectives


def views(n=16, d=8):
    return (torch.empty(n, d, device="meta", requires_grad=True), torch.empty(n, d, device="meta", requires_grad=True))


def run(loss_fn, monkeypatch, allow=()):
    out0, out1 = views()
    with fake_process_group(world_size=2), recorded_collectives(monkeypatch) as calls:
        with OnDevice("meta", allow=allow) as mode:
            loss = loss_fn(out0, out1)
            loss.backward()
    assert calls, "the distributed path ran no collective"
    assert [c for c in calls if c[1] != "meta"] == [], calls
    assert mode.off_device == [], mode.off_device[:5]
    assert loss.device.type == "meta" and out0.grad.device.type == "meta"
    return calls


@pytest.mark.parametrize("objective", sorted(rpc_plugins.OBJECTIVES))
def test_rpc_lightly_gather_distributed(objective, monkeypatch):
    run(ContrastiveLoss(objective, temperature=0.2, gather_distributed=True).to("meta"), monkeypatch)


@pytest.mark.parametrize("objective", ["rpc", "infonce"])
def test_rpc_lightly_memory_bank_gathered_across_ranks(objective, monkeypatch):
    loss_fn = ContrastiveLoss(objective, temperature=0.2, memory_bank_size=(64, 8), gather_distributed=True)
    loss_fn = loss_fn.to("meta")
    bank = loss_fn.memory_bank
    bank.bank_ptr = torch.zeros_like(bank.bank_ptr, device="cpu")  # lightly reads it with int()
    run(loss_fn, monkeypatch, allow=[bank.bank_ptr])


@pytest.mark.parametrize("mode", ["gather", "moments"])
@pytest.mark.parametrize("method", ["gram", "dense"])
def test_core_rpc_loss_distributed_modes(mode, method, monkeypatch):
    calls = run(rpc_plugins.RPCLoss(gather_distributed=True, distributed_mode=mode, method=method), monkeypatch)
    assert {name for name, _ in calls} <= {"all_gather", "all_reduce", "all_gather_into_tensor"}, calls
