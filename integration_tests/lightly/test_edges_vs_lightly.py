"""Drop-in edges against the real lightly 1.6 NTXentLoss (no mocks): every batch size from 1,
with and without a memory bank, and training that ends on a batch of one sample.

lightly's own NTXentLoss tests run batch sizes 1..N; NTXentLoss is finite at 1 (the positive is
the only candidate: cross-entropy 0). Our drop-ins give the same value for InfoNCE and the
empty-negative-set value for the other objectives (``Objective.without_negatives``), with one
``NoNegativesWarning``, and keep rejecting what lightly rejects.
"""

import warnings

import pytest
import pytorch_lightning as pl
import torch
from lightly.loss import NTXentLoss

import rpc_lightly
import rpc_plugins
from integration_tests.lightly._modules import LinearPairs

OBJECTIVES = sorted(rpc_plugins.OBJECTIVES)


def quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rpc_plugins.NoNegativesWarning)
        return fn(*args)


def loss_and_grads(loss_fn, base0, base1):
    out0, out1 = base0.clone().requires_grad_(True), base1.clone().requires_grad_(True)
    loss = quiet(loss_fn, out0, out1)
    loss.backward()
    return loss.detach(), out0.grad, out1.grad


@pytest.mark.parametrize("n", list(range(1, 9)) + [17])
@pytest.mark.parametrize("bank", [0, 24])
def test_infonce_equals_ntxent_at_every_batch_size(n, bank):
    g = torch.Generator().manual_seed(n)
    base0, base1 = (
        torch.randn(n, 6, generator=g, dtype=torch.float64),
        torch.randn(n, 6, generator=g, dtype=torch.float64),
    )
    kwargs = dict(temperature=0.3, memory_bank_size=(bank, 6) if bank else 0)
    torch.manual_seed(0)
    theirs = NTXentLoss(**kwargs).double()
    torch.manual_seed(0)
    ours = rpc_lightly.ContrastiveLoss("infonce", **kwargs).double()
    for _ in range(2):  # a second step reads the bank the first one filled
        for a, b in zip(loss_and_grads(ours, base0, base1), loss_and_grads(theirs, base0, base1)):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_every_objective_is_finite_at_batch_size_one(name):
    out0, out1 = torch.randn(1, 8, requires_grad=True), torch.randn(1, 8, requires_grad=True)
    loss = quiet(rpc_lightly.ContrastiveLoss(name, temperature=0.5), out0, out1)
    assert torch.isfinite(NTXentLoss()(out0, out1)) and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(out0.grad).all() and torch.isfinite(out1.grad).all()


def test_rpc_batch_of_one_value():
    out0, out1 = torch.randn(1, 8, dtype=torch.float64), torch.randn(1, 8, dtype=torch.float64)
    f = float(torch.nn.functional.cosine_similarity(out0, out1)) / 0.1
    got = quiet(rpc_lightly.RPCLoss(beta=0.01), out0, out1)
    assert abs(float(got) + (f - 0.005 * f * f)) < 1e-12


@pytest.mark.parametrize("name", ["rpc", "ntxent"])
def test_training_ends_on_a_batch_of_one(name):
    """17 pairs, batch size 4, drop_last=False: the fifth batch holds one sample; training goes on."""
    loss_fn = NTXentLoss(temperature=0.5) if name == "ntxent" else rpc_lightly.RPCLoss(temperature=0.5)
    module = LinearPairs(loss_fn)
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(17, 10, generator=g)
    data = torch.utils.data.TensorDataset(x0, x0 + 0.3 * torch.randn(17, 10, generator=g))
    loader = torch.utils.data.DataLoader(data, batch_size=4, drop_last=False)
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rpc_plugins.NoNegativesWarning)
        trainer.fit(module, loader)
    assert trainer.global_step == 10
    assert all(torch.isfinite(p).all() for p in module.parameters())


@pytest.mark.parametrize(
    "out0,out1",
    [
        (torch.randn(4, 3), torch.randn(5, 3)),
        (torch.randn(4, 3, 2), torch.randn(4, 3, 2)),
    ],
)
def test_shapes_lightly_rejects_stay_rejected(out0, out1):
    with pytest.raises(Exception):
        NTXentLoss()(out0, out1)
    for name in OBJECTIVES:
        with pytest.raises(ValueError):
            rpc_lightly.ContrastiveLoss(name)(out0, out1)
