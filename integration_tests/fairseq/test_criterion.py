"""The criterion on hand-built logits: -inf distractors, sums, extra losses, registration."""

import importlib.util
import os

import pytest
import torch
from fairseq.criterions import CRITERION_REGISTRY

import rpc_fairseq
import rpc_plugins
from rpc_plugins.pairing import split_column0_logits
from rpc_fairseq.criterion import RpcCriterion


class LogitsModel(torch.nn.Module):
    """A wav2vec-shaped stand-in for the model side only: returns given logits and extra losses."""

    def __init__(self, logits, extra=None):
        super().__init__()
        self.logits, self.extra = logits, extra

    def forward(self, **net_input):
        return {"x": self.logits}

    def get_logits(self, net_output):
        return net_output["x"]

    def get_targets(self, sample, net_output):
        return net_output["x"].new_zeros(net_output["x"].size(0), dtype=torch.long)

    def get_extra_losses(self, net_output):
        return self.extra


def sample(n=6):
    return {"id": torch.arange(2), "net_input": {"source": torch.zeros(2, 10)}}


def criterion(**kw):
    return RpcCriterion(task=None, **kw)


def test_minus_inf_distractors_equal_dropping_them():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, generator=g) * 3
    masked = logits.clone()
    masked[0, 3] = masked[2, 1] = masked[5, 4] = float("-inf")
    crit = criterion(alpha=0.3, beta=0.01, gamma=0.1, critic_scale=0.5)
    loss, sample_size, log = crit(LogitsModel(masked), sample())
    keep = torch.isfinite(masked[:, 1:])
    pos = logits[:, 0] * 0.5
    negs = (logits[:, 1:] * 0.5)[keep]
    j = pos.mean() - 0.3 * negs.mean() - 0.005 * (pos**2).mean() - 0.05 * (negs**2).mean()
    torch.testing.assert_close(loss, -j * 6)
    assert sample_size == 6 and log["n_negatives"] == keep.sum().item()


def test_fp16_logits_are_cast_to_float():
    logits = torch.randn(4, 3).half()
    loss, _, _ = criterion()(LogitsModel(logits), sample())
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_extra_losses_added_as_the_wav2vec_criterion_does():
    logits = torch.randn(4, 3)
    extra = [torch.tensor(2.0), torch.tensor(0.5)]
    base, n, _ = criterion()(LogitsModel(logits), sample())
    total, _, log = criterion(loss_weights=[0.1, 10.0])(LogitsModel(logits, extra), sample())
    torch.testing.assert_close(total, base + 0.1 * 2.0 * n + 10.0 * 0.5 * n)
    assert {"loss_0", "loss_1", "loss_2"} <= set(log)


def test_every_objective_selectable():
    logits = torch.randn(5, 4)
    for name in rpc_plugins.OBJECTIVES:
        loss, _, _ = criterion(objective=name, critic_scale=1.0)(LogitsModel(logits), sample())
        pos, neg, mask = split_column0_logits(logits)
        hyper = {"rpc": dict(alpha=0.3, beta=0.01, gamma=0.1), "smile": dict(clip=5.0)}.get(name, {})
        torch.testing.assert_close(loss, rpc_plugins.get_objective(name, **hyper)(pos, neg, mask) * 5)


class BinaryLayoutModel(LogitsModel):
    """wav2vec (v1) with ``infonce: false``: one logit per pair, targets 1 for the positives and 0 otherwise."""

    def get_targets(self, sample, net_output):
        return (torch.arange(net_output["x"].numel()) % 3 == 0).long()


def test_binary_layout_rejected():
    with pytest.raises(ValueError, match=r"shape \(12,\): wav2vec \(v1\) emits that layout with model.infonce=true"):
        criterion()(BinaryLayoutModel(torch.randn(12)), sample())
    with pytest.raises(TypeError, match="infonce"):  # the layout is the model's choice, not a criterion option
        criterion(infonce=True)


def test_registered_once_even_when_imported_twice():
    path = os.path.join(os.path.dirname(rpc_fairseq.__file__), "criterion.py")
    spec = importlib.util.spec_from_file_location("rpc_fairseq_second_copy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # would raise "Cannot register duplicate criterion" without the guard
    assert CRITERION_REGISTRY["rpc"] is RpcCriterion
