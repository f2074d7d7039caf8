"""A loss call changes no process-wide state: thread counts, the default dtype, the RNG, grad mode, autocast."""

import pytest
import torch

import rpc_plugins as rp


def process_state():
    return (
        torch.get_num_threads(),
        torch.get_num_interop_threads(),
        torch.get_default_dtype(),
        torch.get_rng_state(),
        torch.is_grad_enabled(),
        torch.is_autocast_enabled("cpu"),
    )


@pytest.mark.parametrize(
    "loss_fn",
    [rp.RPCLoss(method="gram"), rp.RPCLoss(method="dense"), rp.ContrastiveLoss("mio"), rp.ContrastiveLoss("smile")],
    ids=["rpc-gram", "rpc-dense", "mio", "smile"],
)
def test_a_loss_call_leaves_process_state_alone(loss_fn):
    g = torch.Generator().manual_seed(0)
    out0 = torch.randn(512, 32, generator=g, requires_grad=True)
    out1 = torch.randn(512, 32, generator=g, requires_grad=True)
    before = process_state()
    loss_fn(out0, out1, torch.randn(16, 32, generator=g)).backward()
    after = process_state()
    assert before[:3] == after[:3] and before[4:] == after[4:]
    assert torch.equal(before[3], after[3])  # no random numbers drawn
