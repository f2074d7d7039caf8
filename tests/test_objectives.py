"""Every objective against its loop reference, gradients, masking, dtype policy, registry."""

import pytest
import torch

import rpc_plugins as rp
from rpc_plugins.pairing import split_column0_logits
from tests import reference

HYPER = {"rpc": dict(alpha=0.4, beta=0.05, gamma=0.7), "smile": dict(clip=1.5)}


def random_scores(anchors=5, negatives=7, seed=0, mask_fraction=0.3, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(anchors, generator=g, dtype=dtype) * 2
    neg = torch.randn(anchors, negatives, generator=g, dtype=dtype) * 2
    mask = torch.rand(anchors, negatives, generator=g) > mask_fraction
    mask[:, 0] = True  # every anchor keeps at least one negative
    return pos, neg, mask


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_reference(name, seed):
    pos, neg, mask = random_scores(seed=seed)
    got = rp.get_objective(name, **HYPER.get(name, {}))(pos, neg, mask)
    want = reference.OBJECTIVE_REFERENCES[name](pos, neg, mask, **HYPER.get(name, {}))
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=torch.float64), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
def test_minus_inf_negatives_equal_dropping_them(name):
    pos, neg, _ = random_scores(anchors=4, negatives=6, seed=3)
    with_inf = neg.clone()
    with_inf[:, 4:] = float("-inf")
    with_inf[1, 2] = float("-inf")
    mask = torch.ones_like(neg, dtype=torch.bool)
    mask[:, 4:] = False
    mask[1, 2] = False
    fn = rp.get_objective(name, **HYPER.get(name, {}))
    torch.testing.assert_close(fn(pos, with_inf), fn(pos, neg, mask))


@pytest.mark.parametrize("name", sorted(set(rp.OBJECTIVES) - {"smile"}))
def test_gradcheck(name):
    pos, neg, mask = random_scores(anchors=3, negatives=4, seed=4)
    pos.requires_grad_(True)
    neg.requires_grad_(True)
    fn = rp.get_objective(name, **HYPER.get(name, {}))
    assert torch.autograd.gradcheck(lambda p, n: fn(p, n, mask), (pos, neg))


def test_minus_inf_negatives_get_zero_gradient_not_nan():
    pos, neg, _ = random_scores(anchors=3, negatives=4, seed=5)
    neg[0, 1] = float("-inf")
    for name in rp.OBJECTIVES:
        n = neg.clone().requires_grad_(True)
        rp.get_objective(name, **HYPER.get(name, {}))(pos, n).backward()
        assert torch.isfinite(n.grad).all(), name
        assert n.grad[0, 1] == 0, name


def test_smile_value_is_clipped_dv_and_gradient_is_js():
    pos, neg, mask = random_scores(seed=6)
    p1, n1 = pos.clone().requires_grad_(True), neg.clone().requires_grad_(True)
    p2, n2 = pos.clone().requires_grad_(True), neg.clone().requires_grad_(True)
    rp.SMILE(clip=1.0)(p1, n1, mask).backward()
    rp.JS()(p2, n2, mask).backward()
    torch.testing.assert_close(p1.grad, p2.grad)
    torch.testing.assert_close(n1.grad, n2.grad)
    # large clip: SMILE's value is DV's
    torch.testing.assert_close(rp.SMILE(clip=100.0)(pos, neg, mask), rp.DV()(pos, neg, mask))


def test_mio_binary_term_is_bce_with_logits():
    pos, neg, mask = random_scores(seed=7)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    want = bce(pos, torch.ones_like(pos)) + bce(neg[mask], torch.zeros_like(neg[mask]))
    torch.testing.assert_close(rp.get_objective("mio")(pos, neg, mask), want)


def test_infonce_is_cross_entropy_with_positive_in_column_zero():
    pos, neg, _ = random_scores(seed=8)
    logits = torch.cat([pos[:, None], neg], dim=1)
    want = torch.nn.functional.cross_entropy(logits, torch.zeros(len(pos), dtype=torch.long))
    torch.testing.assert_close(rp.InfoNCE()(*split_column0_logits(logits)), want)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_scores_accumulate_in_float32(dtype):
    pos, neg, mask = random_scores(anchors=64, negatives=64, seed=9, dtype=torch.float32)
    for name in rp.OBJECTIVES:
        fn = rp.get_objective(name, **HYPER.get(name, {}))
        got = fn(pos.to(dtype), neg.to(dtype), mask)
        assert got.dtype == torch.float32
        want = fn(pos.to(dtype).float(), neg.to(dtype).float(), mask)
        torch.testing.assert_close(got, want)


def test_rpc_moments_add_up():
    pos, neg, mask = random_scores(anchors=6, seed=10)
    whole = rp.ScoreMoments.from_scores(pos, neg, mask)
    parts = rp.ScoreMoments.from_scores(pos[:2], neg[:2], mask[:2]) + rp.ScoreMoments.from_scores(
        pos[2:], neg[2:], mask[2:]
    )
    for a, b in zip(whole, parts):
        torch.testing.assert_close(a, b)
    loss = rp.rpc_loss_from_moments(parts, alpha=0.4, beta=0.05, gamma=0.7)
    torch.testing.assert_close(loss, rp.rpc_loss(pos, neg, mask, **HYPER["rpc"]))


def test_unknown_objective_lists_valid_names():
    with pytest.raises(ValueError, match="unknown objective 'nce'.*infonce"):
        rp.get_objective("nce")
