"""rpc_plugins.multi_positive: objectives on a score matrix with several positives per anchor, against loop
references written from the formulas (float64), the two-view losses, and the score-level objectives."""

import math

import pytest
import torch

import rpc_plugins as rp
from rpc_plugins.multi_positive import multi_positive_loss

HYPER = {"rpc": dict(alpha=0.4, beta=0.05, gamma=0.7), "smile": dict(clip=1.5)}


def label_masks(labels):
    """SupCon's masks: positives share the label (self excluded), negatives do not."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool)
    return same & ~eye, ~same


def random_problem(seed, n=12, classes=4):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=g)
    scores = torch.randn(n, n, generator=g, dtype=torch.float64) * 2
    pos, neg = label_masks(labels)
    return scores, pos, neg


def loop_reference(name, scores, pos, neg, **h):
    """E_P over every positive pair, E_Q over every negative pair, in plain Python."""
    p = [float(scores[a, c]) for a in range(scores.shape[0]) for c in range(scores.shape[1]) if pos[a, c]]
    q = [float(scores[a, c]) for a in range(scores.shape[0]) for c in range(scores.shape[1]) if neg[a, c]]
    ep = sum(p) / len(p)
    if name == "infonce":
        per_anchor = []
        for a in range(scores.shape[0]):
            ps = [math.exp(float(scores[a, c])) for c in range(scores.shape[1]) if pos[a, c]]
            ns = [math.exp(float(scores[a, c])) for c in range(scores.shape[1]) if neg[a, c]]
            if ps:
                per_anchor.append(-math.log(sum(ps) / (sum(ps) + sum(ns))))
        return sum(per_anchor) / len(per_anchor)
    if name == "rpc":
        return -(
            ep
            - h["alpha"] * sum(q) / len(q)
            - h["beta"] / 2 * sum(x * x for x in p) / len(p)
            - h["gamma"] / 2 * sum(x * x for x in q) / len(q)
        )
    if name == "nwj":
        return -(ep - math.exp(-1) * sum(math.exp(x) for x in q) / len(q))
    if name == "dv":
        return -(ep - math.log(sum(math.exp(x) for x in q) / len(q)))
    if name in ("js", "mio"):
        softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731
        return sum(softplus(-x) for x in p) / len(p) + sum(softplus(x) for x in q) / len(q)
    if name == "smile":
        c = h["clip"]
        return -(ep - math.log(sum(math.exp(min(max(x, -c), c)) for x in q) / len(q)))
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_loop_reference_with_label_positives(name, seed):
    scores, pos, neg = random_problem(seed)
    got = multi_positive_loss(name, scores, pos, neg, **HYPER.get(name, {}))
    assert got.dtype == torch.float64
    want = loop_reference(name, scores, pos, neg, **HYPER.get(name, {}))
    assert abs(float(got) - want) < 1e-10, (float(got), want)


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
def test_two_views_equal_contrastive_loss(name):
    """SimCLR's two-view layout through the matrix form is rpc_plugins.ContrastiveLoss (same pooling)."""
    g = torch.Generator().manual_seed(3)
    z0, z1 = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    t = 0.3
    z = torch.nn.functional.normalize(torch.cat([z0, z1]), dim=1)
    ids = torch.arange(6).repeat(2)
    pos, neg = label_masks(ids)
    options = dict(HYPER.get(name, {}))
    if name == "mio":
        options = dict(l2_weight=0.0)
    want = rp.ContrastiveLoss(name, temperature=t, **options)(z0, z1)
    scores_options = {} if name == "mio" else HYPER.get(name, {})
    got = multi_positive_loss(name, z @ z.t() / t, pos, neg, **scores_options)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
def test_one_positive_per_row_equals_score_objective(name):
    """One positive per anchor (MoCo v3 / NNCLR layout): the score-level objective on (pos, other columns)."""
    g = torch.Generator().manual_seed(4)
    scores = torch.randn(5, 9, generator=g, dtype=torch.float64)
    pos = torch.zeros(5, 9, dtype=torch.bool)
    pos[torch.arange(5), torch.arange(5) + 2] = True
    got = multi_positive_loss(name, scores, pos, ~pos, **HYPER.get(name, {}))
    want = rp.get_objective(name, **HYPER.get(name, {}))(scores[pos], scores, ~pos)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["rpc", "infonce", "nwj", "mio"])
def test_gradients_match_autograd_of_reference(name):
    """Gradients: the masked layout (padding, indexing) passes exact gradients (float64 gradcheck)."""
    scores, pos, neg = random_problem(5, n=6, classes=2)
    scores.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: multi_positive_loss(name, s, pos, neg, **HYPER.get(name, {})), (scores,))


def test_separate_negative_scores():
    """neg_scores scores the negative pairs (MIO's negative temperature): E_Q reads them, E_P reads scores."""
    scores, pos, neg = random_problem(6)
    got = multi_positive_loss("js", scores, pos, neg, neg_scores=2 * scores)
    both = torch.where(neg, 2 * scores, scores)
    torch.testing.assert_close(got, multi_positive_loss("js", both, pos, neg))


def test_no_negatives_gives_positive_only_value_with_warning():
    scores = torch.tensor([[0.0, 2.0], [2.0, 0.0]])
    pos = torch.tensor([[False, True], [True, False]])
    with pytest.warns(rp.NoNegativesWarning):
        got = multi_positive_loss("rpc", scores, pos, torch.zeros_like(pos), alpha=0.3, beta=0.01, gamma=0.1)
    assert abs(float(got) + (2.0 - 0.5 * 0.01 * 4.0)) < 1e-6
    assert float(multi_positive_loss("infonce", scores, pos, torch.zeros_like(pos))) == 0.0


@pytest.mark.parametrize(
    "bad,message",
    [
        (lambda s, p, n: (s.long(), p, n), "floating-point"),
        (lambda s, p, n: (s[0], p, n), "2-D"),
        (lambda s, p, n: (s, p.float(), n), "pos_mask must be a bool"),
        (lambda s, p, n: (s, p, n[:, :3]), "neg_mask shape"),
        (lambda s, p, n: (s, p, n | p), "overlap"),
        (lambda s, p, n: (s, torch.zeros_like(p), n), "no positive"),
        (lambda s, p, n: (torch.where(p, torch.full_like(s, float("nan")), s), p, n), "NaN"),
    ],
)
def test_bad_input_names_the_problem(bad, message):
    scores, pos, neg = random_problem(7)
    with pytest.raises(ValueError, match=message):
        multi_positive_loss("rpc", *bad(scores, pos, neg))


def test_unknown_objective_lists_the_valid_ones():
    scores, pos, neg = random_problem(8)
    with pytest.raises(ValueError, match="choose one of"):
        multi_positive_loss("bogus", scores, pos, neg)
