"""rpc_lightly's losses against lightly 1.6's own NTXentLoss (the real package, no mocks)."""

import pytest
import torch
from lightly.loss import DCLLoss, NTXentLoss

import rpc_lightly
import rpc_plugins


@pytest.mark.parametrize("n", [2, 5, 32])
@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
def test_infonce_equals_ntxent(n, temperature):
    g = torch.Generator().manual_seed(n)
    out0, out1 = torch.randn(n, 16, generator=g), torch.randn(n, 16, generator=g)
    want = NTXentLoss(temperature=temperature)(out0, out1)
    torch.testing.assert_close(rpc_lightly.ContrastiveLoss("infonce", temperature=temperature)(out0, out1), want)
    torch.testing.assert_close(rpc_plugins.ContrastiveLoss("infonce", temperature=temperature)(out0, out1), want)


def test_default_contrastive_losses_are_ntxents_defaults():
    """Both ContrastiveLoss classes default to infonce at lightly's temperature: NTXentLoss() itself."""
    g = torch.Generator().manual_seed(3)
    out0, out1 = torch.randn(10, 16, generator=g), torch.randn(10, 16, generator=g)
    want = NTXentLoss()(out0, out1)
    for loss_fn in (rpc_lightly.ContrastiveLoss(), rpc_plugins.ContrastiveLoss()):
        assert loss_fn.objective.name == "infonce"
        torch.testing.assert_close(loss_fn(out0, out1), want)


def test_rpc_defaults_declared_once():
    """The adapter's RPCLoss takes RPC's defaults from the core (rpc_plugins.OBJECTIVE_KNOBS)."""
    g = torch.Generator().manual_seed(4)
    out0, out1 = torch.randn(10, 16, generator=g), torch.randn(10, 16, generator=g)
    assert rpc_lightly.RPCLoss().in_batch.knobs == dict(rpc_plugins.OBJECTIVE_KNOBS["rpc"])
    torch.testing.assert_close(rpc_lightly.RPCLoss()(out0, out1), rpc_plugins.RPCLoss()(out0, out1))


def test_infonce_gradients_equal_ntxent():
    g = torch.Generator().manual_seed(0)
    base = [torch.randn(12, 8, generator=g, dtype=torch.float64) for _ in range(2)]
    grads = []
    for loss_fn in (NTXentLoss(temperature=0.3), rpc_lightly.ContrastiveLoss("infonce", temperature=0.3)):
        out0, out1 = (b.clone().requires_grad_(True) for b in base)
        loss_fn(out0, out1).backward()
        grads.append((out0.grad, out1.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_memory_bank_infonce_equals_ntxent_over_steps():
    torch.manual_seed(0)
    ours = rpc_lightly.ContrastiveLoss("infonce", temperature=0.2, memory_bank_size=(40, 8))
    torch.manual_seed(0)
    theirs = NTXentLoss(temperature=0.2, memory_bank_size=(40, 8))
    g = torch.Generator().manual_seed(1)
    for _ in range(6):  # the bank fills, wraps around and is read back
        out0 = torch.randn(16, 8, generator=g).requires_grad_(True)
        out1 = torch.randn(16, 8, generator=g)
        torch.testing.assert_close(ours(out0, out1), theirs(out0, out1))
    torch.testing.assert_close(ours.memory_bank.bank, theirs.memory_bank.bank)


def test_memory_bank_rpc_uses_bank_negatives():
    torch.manual_seed(0)
    loss_fn = rpc_lightly.RPCLoss(alpha=0.3, beta=0.01, gamma=0.1, temperature=0.5, memory_bank_size=(20, 8))
    out0, out1 = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8)
    z0, z1 = (torch.nn.functional.normalize(t, dim=1) for t in (out0, out1))
    raw_bank = loss_fn.memory_bank.bank.clone()  # read before the call enqueues out1
    want = rpc_plugins.rpc_loss((z0 * z1).sum(1) / 0.5, z0 @ raw_bank.t() / 0.5, alpha=0.3, beta=0.01, gamma=0.1)
    torch.testing.assert_close(loss_fn(out0, out1), want)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(temperature=0.0), "Illegal temperature"),
        (dict(memory_bank_size=16), "does not specify the feature dimension"),
        (dict(memory_bank_size=(-1, 8)), "Illegal memory bank size"),
        (dict(beta=-0.5), "beta must be finite and >= 0"),
    ],
)
def test_errors_follow_lightly_conventions(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rpc_lightly.RPCLoss(**kwargs)
    if "beta" not in kwargs:
        with pytest.raises(ValueError, match=message):
            NTXentLoss(**kwargs)


def test_rpc_and_lightly_losses_accept_the_same_inputs():
    out0, out1 = torch.randn(64, 32), torch.randn(64, 32)
    for loss_fn in (NTXentLoss(), DCLLoss(), rpc_lightly.RPCLoss(), rpc_lightly.ContrastiveLoss("mio")):
        assert torch.isfinite(loss_fn(out0, out1))
