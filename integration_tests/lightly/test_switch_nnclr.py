"""lightly's NNCLR recipe (NNMemoryBankModule support set, real lightly) with the loss switched
(examples/lightly/nnclr_switch.py): ``infonce`` trains exactly as lightly's NTXentLoss, ``rpc`` and the other
objectives train from the same code."""

import math
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "lightly"))

import nnclr_switch  # noqa: E402


def test_infonce_is_ntxent_on_every_step():
    """lightly's NNCLR loop with NTXentLoss; at each of 12 steps the switched criterion gets the same nearest
    neighbours and predictions: same loss and same gradients. (End-to-end weights are not compared: the
    nearest-neighbour argmax can flip on a float rounding difference and the runs then diverge legitimately.)"""
    from lightly.models.modules import NNMemoryBankModule

    torch.manual_seed(0)
    model = nnclr_switch.NNCLR(nnclr_switch.small_cnn(), 64)
    bank = NNMemoryBankModule(size=(64, 128))
    lightly_loss, ours = nnclr_switch.make_criterion("ntxent"), nnclr_switch.make_criterion("infonce")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.06, momentum=0.9)
    images, g = nnclr_switch.digits(), torch.Generator().manual_seed(0)
    params = [p for p in model.parameters() if p.requires_grad]
    for _ in range(12):
        x = images[torch.randint(0, len(images), (32,), generator=g)]
        (z0, p0), (z1, p1) = model(nnclr_switch.augment(x, g)), model(nnclr_switch.augment(x, g))
        z0, z1 = bank(z0, update=False), bank(z1, update=True)
        theirs = 0.5 * (lightly_loss(z0, p1) + lightly_loss(z1, p0))
        mine = 0.5 * (ours(z0, p1) + ours(z1, p0))
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
        ours_grads = torch.autograd.grad(mine, params, retain_graph=True)
        their_grads = torch.autograd.grad(theirs, params, retain_graph=True)
        scale = max(float(b.abs().max()) for b in their_grads)  # float32 sums in another order: errors scale with it
        for a, b in zip(ours_grads, their_grads):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * scale)
        optimizer.zero_grad()
        theirs.backward()
        optimizer.step()
    rpc = nnclr_switch.make_criterion("rpc")
    assert not torch.isclose(0.5 * (rpc(z0, p1) + rpc(z1, p0)), theirs)  # another objective: another value


@pytest.mark.parametrize("loss", ["rpc", "mio", "nwj", "js", "dv", "smile"])
def test_every_objective_trains_in_lightly_nnclr(loss):
    _, losses = nnclr_switch.train(loss, steps=4, batch_size=32, bank_size=64)
    assert all(math.isfinite(v) for v in losses), losses
