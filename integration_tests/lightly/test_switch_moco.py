"""lightly's MoCo recipe (memory bank of momentum keys, real lightly) with the loss switched
(examples/lightly/moco_switch.py): ``infonce`` trains exactly as lightly's NTXentLoss with the same bank,
``rpc`` and the other objectives train from the same code."""

import math
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "lightly"))

import moco_switch  # noqa: E402


def test_infonce_is_ntxent_with_memory_bank_step_for_step():
    ntxent_model, ntxent_losses = moco_switch.train("ntxent", steps=12, batch_size=32, bank_size=64)
    ours_model, ours_losses = moco_switch.train("infonce", steps=12, batch_size=32, bank_size=64)
    # 12 steps: the bank (64) fills after 2 and is then made of past keys only
    for a, b in zip(ntxent_losses, ours_losses):
        assert math.isclose(a, b, rel_tol=1e-4), (ntxent_losses, ours_losses)
    for (name, a), b in zip(ntxent_model.state_dict().items(), ours_model.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)
    rpc_model, _ = moco_switch.train("rpc", steps=12, batch_size=32, bank_size=64)
    far = max(
        float((a - b).abs().max())
        for a, b in zip(ntxent_model.state_dict().values(), rpc_model.state_dict().values())
        if a.is_floating_point()
    )
    assert far > 1e-3  # another objective ends elsewhere: the comparison above can fail


@pytest.mark.parametrize("loss", ["rpc", "mio", "nwj", "js", "dv", "smile"])
def test_every_objective_trains_in_lightly_moco(loss):
    _, losses = moco_switch.train(loss, steps=4, batch_size=32, bank_size=64)
    assert all(math.isfinite(v) for v in losses), losses
