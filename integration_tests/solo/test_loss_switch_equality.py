"""``loss: infonce`` is each method's own loss function of real solo-learn main (9187ea3): same value and same
gradients on the same inputs, for SimCLR with multi-crop indexes, SupCon labels, MoCo v2+ (queue), MoCo v3 (2T
scale) and NNCLR. Every other objective scores the same pairs: on SimCLR's two views it is rpc_plugins'
``ContrastiveLoss`` (the core's two-view pooling), on MoCo v2+'s queue layout ``ContrastiveLoss.queue_loss``.
"""

import pytest

import rpc_plugins
import torch
import torch.nn.functional as F
from solo.losses.mocov2plus import mocov2plus_loss_func
from solo.losses.mocov3 import mocov3_loss_func
from solo.losses.nnclr import nnclr_loss_func
from solo.losses.simclr import simclr_loss_func

from rpc_solo.loss_switch import LossSwitch
from rpc_solo.pairs import offset_pairs, queue_pairs, simclr_pairs

T = 0.2
HYPER = {"rpc": dict(alpha=0.4, beta=0.02, gamma=0.3), "smile": dict(clip=2.0)}


def leaves(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_(True) for s in shapes]


def grads(loss, tensors):
    return torch.autograd.grad(loss, tensors, retain_graph=True)


def assert_same(ours, theirs, inputs):
    torch.testing.assert_close(ours, theirs.to(ours.dtype), rtol=1e-10, atol=1e-10)
    for a, b in zip(grads(ours, inputs), grads(theirs, inputs)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def switch(name="infonce", **options):
    return LossSwitch(name, T, options)


@pytest.mark.parametrize("crops", [2, 4, 6])
def test_simclr_multicrop_indexes(crops):
    """solo's SimCLR: ``z = cat(crops)``, ``indexes.repeat(crops)``; 2 large + small crops all positives."""
    (z,) = leaves((crops * 5, 8))
    indexes = torch.arange(100, 105).repeat(crops)
    assert_same(switch()(*simclr_pairs(z, indexes)), simclr_loss_func(z, indexes, temperature=T), [z])


def test_supcon_labels():
    """solo's SupCon: the labels are the indexes (every same-label crop is a positive, unequal counts)."""
    (z,) = leaves((2 * 9, 8), seed=1)
    labels = torch.tensor([0, 1, 1, 2, 0, 0, 3, 1, 2]).repeat(2)
    assert_same(switch()(*simclr_pairs(z, labels)), simclr_loss_func(z, labels, temperature=T), [z])


def test_mocov2plus_queue():
    q, k, queue = leaves((6, 8), (6, 8), (8, 20), seed=2)
    qn, kn, queue_n = F.normalize(q, dim=1), F.normalize(k, dim=1), F.normalize(queue, dim=0)  # as solo's method
    ours = switch()(*queue_pairs(qn, kn, queue_n))
    assert_same(ours, mocov2plus_loss_func(qn, kn, queue_n, temperature=T), [q, k, queue])


def test_mocov3_scale_and_gathered_keys():
    """mocov3_loss_func: normalised q and k, keys of all ranks (one here, so solo's no-grad gather returns k
    itself; in training k comes from the momentum encoder, without gradient), cross-entropy times 2T."""
    q, k = leaves((6, 8), (6, 8), seed=3)
    ours = 2 * T * switch()(*offset_pairs(q, k, with_grad=False))
    assert_same(ours, mocov3_loss_func(q, k, temperature=T), [q, k])


def test_nnclr_predictions_with_gradients():
    nn, p = leaves((6, 8), (6, 8), seed=4)
    assert_same(switch()(*offset_pairs(nn, p, with_grad=True)), nnclr_loss_func(nn, p, temperature=T), [nn, p])


def test_float32_training_path_equals_solo():
    """float32 inputs (training): solo's value to float32 rounding."""
    g = torch.Generator().manual_seed(5)
    z = torch.randn(4 * 8, 16, generator=g)
    indexes = torch.arange(8).repeat(4)
    torch.testing.assert_close(
        switch()(*simclr_pairs(z, indexes)), simclr_loss_func(z, indexes, temperature=T), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name", sorted(rpc_plugins.OBJECTIVES))
def test_two_views_every_objective_is_the_core_two_view_loss(name):
    """On SimCLR's two crops, every objective sees the pairs rpc_plugins' ContrastiveLoss sees (SimCLR 2N layout)."""
    g = torch.Generator().manual_seed(6)
    z0, z1 = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    options = dict(HYPER.get(name, {}))
    core = rpc_plugins.ContrastiveLoss(name, temperature=T, **options)
    ours = LossSwitch(name, T, core.knobs)(*simclr_pairs(torch.cat([z0, z1]), torch.arange(8).repeat(2)))
    torch.testing.assert_close(ours, core(z0, z1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(rpc_plugins.OBJECTIVES))
def test_queue_layout_every_objective_is_the_core_queue_loss(name):
    """MoCo v2+'s layout (positive: the key; negatives: the queue only) = ContrastiveLoss.queue_loss."""
    g = torch.Generator().manual_seed(7)
    q, k = F.normalize(torch.randn(8, 16, generator=g), dim=1), F.normalize(torch.randn(8, 16, generator=g), dim=1)
    queue = F.normalize(torch.randn(16, 32, generator=g), dim=0)
    core = rpc_plugins.ContrastiveLoss(name, temperature=T, normalize=False, **HYPER.get(name, {}))
    ours = LossSwitch(name, T, core.knobs)(*queue_pairs(q, k, queue))
    torch.testing.assert_close(ours, core.queue_loss(q, k, queue.t()), rtol=1e-5, atol=1e-5)
