"""Bad input raises a ValueError that names the problem; nothing turns silently into NaN."""

import warnings

import pytest
import torch

import rpc_plugins as rp
from rpc_plugins import losses as two_view

nan_batch = torch.randn(4, 3)
nan_batch[1, 2] = float("nan")
inf_batch = torch.randn(4, 3)
inf_batch[0, 0] = float("inf")

TWO_VIEW_CASES = [
    (torch.randn(4, 3), torch.randn(5, 3), "same shape"),
    (torch.randn(4, 3, 2), torch.randn(4, 3, 2), "2-D"),
    (torch.randn(4), torch.randn(4), "2-D"),
    (torch.ones(4, 3, dtype=torch.long), torch.ones(4, 3, dtype=torch.long), "floating dtype"),
    (nan_batch, torch.randn(4, 3), "out0 contains NaN"),
    (torch.randn(4, 3), inf_batch, "out1 contains NaN or Inf"),
    (torch.randn(0, 3), torch.randn(0, 3), "non-empty"),
]


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
@pytest.mark.parametrize("out0,out1,message", TWO_VIEW_CASES)
def test_two_view_bad_inputs(name, out0, out1, message):
    with pytest.raises(ValueError, match=message):
        rp.ContrastiveLoss(name)(out0, out1)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(alpha=-0.1), "alpha must be finite and >= 0"),
        (dict(beta=-1.0), "beta must be finite and >= 0"),
        (dict(gamma=float("nan")), "gamma must be finite and >= 0"),
        (dict(temperature=0.0), "temperature must be finite and > 1e-8"),
        (dict(temperature=-0.5), "temperature"),
        (dict(method="fast"), "method must be"),
        (dict(distributed_mode="ring"), "distributed_mode must be"),
        (dict(check_finite="maybe"), "check_finite must be"),
    ],
)
def test_rpc_loss_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rp.RPCLoss(**kwargs)


def test_contrastive_loss_bad_options():
    with pytest.raises(ValueError, match="unknown objective"):
        rp.ContrastiveLoss("simclr")
    with pytest.raises(ValueError, match=r"unknown knob\(s\) \['alpha'\] for objective 'infonce'"):
        rp.ContrastiveLoss("infonce", alpha=0.3)
    with pytest.raises(ValueError, match="pos_temperature"):
        rp.ContrastiveLoss("mio", pos_temperature=0.0)
    with pytest.raises(ValueError, match="clip"):
        rp.ContrastiveLoss("smile", clip=-1.0)(torch.randn(4, 3), torch.randn(4, 3))


def test_extra_negatives_shape_checked():
    with pytest.raises(ValueError, match="negatives must be"):
        rp.RPCLoss()(torch.randn(4, 3), torch.randn(4, 3), torch.randn(5, 2))


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
def test_batch_of_one_is_finite_like_lightly(name):
    """A batch of one (no other negatives): finite loss, negative terms over an empty set taken as 0,
    one NoNegativesWarning per loss class (lightly's NTXentLoss is finite there; see
    integration_tests/lightly for the comparison with the real package)."""
    out0, out1 = torch.randn(1, 3, requires_grad=True), torch.randn(1, 3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rp.NoNegativesWarning)
        loss = rp.ContrastiveLoss(name)(out0, out1)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(out0.grad).all() and torch.isfinite(out1.grad).all()


def test_batch_of_one_rpc_value_is_the_positive_terms():
    out0, out1 = torch.randn(1, 4, dtype=torch.float64), torch.randn(1, 4, dtype=torch.float64)
    f = float(torch.nn.functional.cosine_similarity(out0, out1)) / 0.5
    for method in ("dense", "gram"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rp.NoNegativesWarning)
            loss = rp.RPCLoss(temperature=0.5, beta=0.2, method=method)(out0, out1)
        assert abs(float(loss) - -(f - 0.1 * f * f)) < 1e-12, method


def test_no_negatives_warning_once_per_loss_class(monkeypatch):
    monkeypatch.setattr(two_view, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            rp.ContrastiveLoss("js")(torch.randn(1, 3), torch.randn(1, 3))
            rp.RPCLoss()(torch.randn(1, 3), torch.randn(1, 3))
    assert [str(w.message).split(":")[0] for w in caught if w.category is rp.NoNegativesWarning] == [
        "ContrastiveLoss('js')",
        "RPCLoss",
    ]


SCORE_CASES = [
    (torch.randn(3, 1), torch.randn(3, 4), None, "pos must be 1-D"),
    (torch.randn(3), torch.randn(2, 4), None, "neg must be 2-D"),
    (torch.randn(3), torch.randn(3, 4), torch.ones(3, 4), "neg_mask must be a bool"),
    (torch.randn(3), torch.randn(3, 4), torch.ones(3, 5, dtype=torch.bool), "neg_mask shape"),
    (torch.tensor([1.0, float("nan"), 0.0]), torch.randn(3, 4), None, "pos contains NaN"),
    (torch.tensor([1.0, float("-inf"), 0.0]), torch.randn(3, 4), None, "pos contains NaN or Inf"),
    (torch.randn(3), torch.full((3, 4), float("inf")), None, r"neg contains NaN or \+Inf"),
    (torch.randn(3), torch.full((3, 4), float("-inf")), None, "no valid negative"),
    (torch.randn(3), torch.randn(3, 4), torch.zeros(3, 4, dtype=torch.bool), "no valid negative"),
    (torch.randn(3), torch.randn(3, 0), None, "no valid negative"),
    (torch.arange(3), torch.randn(3, 4), None, "pos must have a floating dtype"),
]


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
@pytest.mark.parametrize("pos,neg,mask,message", SCORE_CASES)
def test_score_bad_inputs(name, pos, neg, mask, message):
    with pytest.raises(ValueError, match=message):
        rp.get_objective(name)(pos, neg, mask)


def test_rpc_bad_relative_parameters():
    with pytest.raises(ValueError, match="beta must be finite and >= 0"):
        rp.rpc_loss(torch.randn(3), torch.randn(3, 4), beta=-0.01)
    moments = rp.ScoreMoments.from_scores(torch.randn(3), torch.randn(3, 4))
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        rp.rpc_loss_from_moments(moments, alpha=-1.0)


@pytest.mark.parametrize(
    "name,options,message",
    [
        ("rpc", {"delta": 1.0}, r"unknown knob\(s\) \['delta'\] for objective 'rpc'"),
        ("infonce", {"alpha": 0.3}, "unknown knob"),
        ("smile", {"clip": 0.0}, "clip must be finite and > 1e-8"),
        (
            "mio",
            {"l2_weight": -1.0, "pos_temperature": 0.5, "neg_temperature": 0.5},
            "l2_weight must be finite and >= 0",
        ),
        ("nope", {}, "unknown objective 'nope'"),
    ],
)
def test_objective_options_name_the_problem(name, options, message):
    with pytest.raises(ValueError, match=message):
        rp.objective_options(name, options)


def test_split_column0_logits_needs_a_negative_column():
    from rpc_plugins.pairing import split_column0_logits

    with pytest.raises(ValueError, match="at least one negative"):
        split_column0_logits(torch.randn(5, 1))
