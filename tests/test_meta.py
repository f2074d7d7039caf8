"""Every public loss of the core runs forward and backward on ``meta`` tensors.

A meta tensor has a shape, a dtype and a device but no values: reading one on the host raises, and so
does mixing it with a tensor made on another device. A loss that passes here reads no value on the host
and makes every tensor on its inputs' device, so on a GPU it neither synchronises nor fails on a CPU
tensor (``tests/gpu`` checks the same on CUDA where there is one).
"""

import pytest
import torch

import rpc_plugins as rp
from rpc_plugins.multi_positive import multi_positive_loss

META = torch.device("meta")


def embeddings(*shapes):
    return [torch.empty(*shape, device=META, requires_grad=True) for shape in shapes]


def backward_on_meta(loss, *leaves):
    assert loss.device == META and loss.dim() == 0
    loss.backward()
    for x in leaves:
        assert x.grad is not None and x.grad.device == META and x.grad.shape == x.shape


TWO_VIEW_LOSSES = {
    "RPCLoss-gram": lambda: rp.RPCLoss(method="gram"),
    "RPCLoss-dense": lambda: rp.RPCLoss(method="dense"),
    "RPCLoss-unnormalised": lambda: rp.RPCLoss(normalize=False, method="gram"),
    **{name: (lambda n=name: rp.ContrastiveLoss(n)) for name in sorted(rp.OBJECTIVES)},
}


@pytest.mark.parametrize("name", sorted(TWO_VIEW_LOSSES))
@pytest.mark.parametrize("bank", [False, True])
def test_two_view_losses(name, bank):
    out0, out1 = embeddings((16, 8), (16, 8))
    negatives = torch.empty(5, 8, device=META) if bank else None
    backward_on_meta(TWO_VIEW_LOSSES[name]()(out0, out1, negatives), out0, out1)


@pytest.mark.parametrize("name", sorted(TWO_VIEW_LOSSES))
def test_queue_loss(name):
    out0, out1 = embeddings((16, 8), (16, 8))
    loss_fn = TWO_VIEW_LOSSES[name]()
    backward_on_meta(loss_fn.queue_loss(out0, out1, torch.empty(32, 8, device=META)), out0, out1)


@pytest.mark.parametrize("layout", ["two_view", "queue", "cross"])
@pytest.mark.parametrize("method", ["dense", "gram"])
def test_embedding_moments(layout, method):
    out0, out1 = embeddings((12, 6), (12, 6))
    negatives = torch.empty(4, 6, device=META) if layout == "queue" else None
    moments = rp.embedding_moments(out0, out1, 0.5, True, negatives, layout=layout, method=method)
    backward_on_meta(rp.rpc_loss_from_moments(moments), out0, out1)


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
def test_objectives_on_scores(name):
    pos, neg = embeddings((10,), (10, 7))
    mask = torch.empty(10, 7, dtype=torch.bool, device=META)
    backward_on_meta(rp.get_objective(name)(pos, neg, mask), pos, neg)
    pos_only = embeddings((10,))[0]
    backward_on_meta(rp.get_objective(name).without_negatives(pos_only), pos_only)


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
def test_multi_positive_loss(name):
    (scores,) = embeddings((8, 12))
    pos_mask = torch.empty(8, 12, dtype=torch.bool, device=META)
    backward_on_meta(multi_positive_loss(name, scores, pos_mask, torch.empty_like(pos_mask)), scores)
