"""embedding_moments (every layout, both paths) and from_scores (multi-positive, empty negatives) against
loop references written from the definitions of the six moments; float64, so 1e-10 relative."""

import pytest
import torch

import rpc_plugins as rp

T = 0.7


def loop_moments(anchors, positives, negatives_of):
    """The six moments by loops over pairs: anchor i's positive ``positives[i]``, its negatives ``negatives_of(i)``."""
    pos = [float(anchors[i] @ positives[i]) / T for i in range(anchors.shape[0])]
    neg = [float(anchors[i] @ c) / T for i in range(anchors.shape[0]) for c in negatives_of(i)]
    return (sum(pos), sum(f * f for f in pos), len(pos), sum(neg), sum(f * f for f in neg), len(neg))


def views(n=5, d=4, m=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(k, d, generator=g, dtype=torch.float64) for k in (n, n, m)]


def normalised(x, normalize):
    return torch.nn.functional.normalize(x, dim=1) if normalize else x


def assert_moments(got, want):
    scale = max(abs(v) for v in want)
    for name, a, b in zip(rp.ScoreMoments._fields, got, want):
        assert abs(float(a) - b) <= 1e-10 * scale, name


@pytest.mark.parametrize("method", ["dense", "gram"])
@pytest.mark.parametrize("normalize", [True, False])
def test_queue_layout_is_anchors_against_the_queue_only(method, normalize):
    out0, out1, queue = views()
    z0, z1, q = (normalised(x, normalize) for x in (out0, out1, queue))
    got = rp.embedding_moments(out0, out1, T, normalize, queue, layout="queue", method=method)
    assert_moments(got, loop_moments(z0, z1, lambda i: list(q)))
    assert isinstance(got.neg_count, int)  # from shapes: nothing read from a device


@pytest.mark.parametrize("method", ["dense", "gram"])
@pytest.mark.parametrize("extra", [0, 3])
def test_two_view_layout_excludes_self_and_partner(method, extra):
    out0, out1, queue = views(m=extra)
    anchors, partners = torch.cat([out0, out1]), torch.cat([out1, out0])
    n = out0.shape[0]

    def negatives_of(i):
        return [anchors[j] for j in range(2 * n) if j not in (i, (i + n) % (2 * n))] + list(queue)

    got = rp.embedding_moments(out0, out1, T, False, queue if extra else None, method=method)
    assert_moments(got, loop_moments(anchors, partners, negatives_of))
    assert isinstance(got.neg_count, int)


def test_paths_have_equal_gradients_in_both_layouts():
    out0, out1, queue = views(n=6, d=5, m=4, seed=1)
    for layout in ("two_view", "queue"):
        grads = []
        for method in ("dense", "gram"):
            a, b = out0.clone().requires_grad_(True), out1.clone().requires_grad_(True)
            m = rp.embedding_moments(a, b, T, True, queue, layout=layout, method=method)
            rp.rpc_loss_from_moments(m).backward()
            grads.append((a.grad, b.grad))
        for x, y in zip(*grads):
            torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)


def test_reductions_without_torch_distributed_are_local():
    out0, out1, queue = views()
    local = rp.embedding_moments(out0, out1, T, True, queue)
    for reduction in ("gather", "all_reduce"):
        got = rp.embedding_moments(out0, out1, T, True, queue, reduction=reduction)
        assert got.neg_count == local.neg_count and isinstance(got.neg_count, int)
        assert_moments(got, [float(v) for v in local])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(reduction="ring"), "reduction must be one of"),
        (dict(layout="queue"), "needs negatives with at least one row"),
        (dict(layout="queue", negatives=torch.zeros(0, 4)), "needs negatives with at least one row"),
        (dict(layout="queue", negatives=torch.ones(2, 4), reduction="gather"), "needs an in-batch layout"),
        (dict(method="fast"), "method must be"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rp.embedding_moments(torch.randn(3, 4), torch.randn(3, 4), T, **kwargs)


def test_from_scores_pos_mask_pools_the_masked_positives():
    g = torch.Generator().manual_seed(2)
    scores = torch.randn(4, 6, generator=g, dtype=torch.float64)
    pos_mask = torch.rand(4, 6, generator=g) > 0.5
    pos_mask[0, 0] = True
    neg = torch.randn(4, 3, generator=g, dtype=torch.float64)
    got = rp.ScoreMoments.from_scores(scores, neg, pos_mask=pos_mask)
    chosen = [float(scores[i, j]) for i in range(4) for j in range(6) if pos_mask[i, j]]
    negs = [float(v) for v in neg.reshape(-1)]
    assert_moments(
        got, (sum(chosen), sum(f * f for f in chosen), len(chosen), sum(negs), sum(f * f for f in negs), len(negs))
    )


def test_from_scores_empty_negatives_count_is_python_zero():
    pos = torch.tensor([2.0, -1.0], dtype=torch.float64)
    m = rp.ScoreMoments.from_scores(pos, pos.new_zeros(2, 0))
    assert m.neg_count == 0 and not isinstance(m.neg_count, torch.Tensor)
    loss = rp.rpc_loss_from_moments(m, alpha=0.3, beta=0.2, gamma=0.1)
    assert abs(float(loss) - -(0.5 - 0.1 * 2.5)) < 1e-12  # -(E_P f - beta/2 E_P f^2)


@pytest.mark.parametrize(
    "args,message",
    [
        ((torch.randn(3, 2), torch.randn(3, 4)), "pos must be 1-D"),
        ((torch.randn(3), torch.randn(3, 4), None, torch.ones(3, dtype=torch.bool)), "pos must be 2-D"),
        ((torch.randn(3, 2), torch.randn(3, 4), None, torch.ones(3, 2)), "pos_mask must be a bool"),
        ((torch.randn(3, 2), torch.randn(3, 4), None, torch.ones(3, 3, dtype=torch.bool)), "pos_mask shape"),
    ],
)
def test_from_scores_bad_positives_name_the_problem(args, message):
    with pytest.raises(ValueError, match=message):
        rp.ScoreMoments.from_scores(*args)


@pytest.mark.skipif(int(torch.__version__.split(".")[0]) < 2, reason="meta tensors through autograd need torch >= 2")
def test_multi_positive_rpc_reads_no_value():
    """On a "meta" tensor any host read raises: multi-positive RPC (masks, no boolean indexing) reads nothing."""
    from rpc_plugins.multi_positive import multi_positive_loss

    scores = torch.empty(6, 6, device="meta", requires_grad=True)
    pos_mask, neg_mask = (torch.empty(6, 6, dtype=torch.bool, device="meta") for _ in range(2))
    loss = multi_positive_loss("rpc", scores, pos_mask, neg_mask)
    loss.backward()
    assert loss.shape == () and scores.grad.shape == scores.shape


@pytest.mark.parametrize("method", ["dense", "gram"])
@pytest.mark.parametrize("normalize", [True, False])
def test_cross_layout_pairs_each_image_with_every_text(method, normalize):
    image, text, _ = views(n=6, d=4)
    u, v = normalised(image, normalize), normalised(text, normalize)
    got = rp.embedding_moments(image, text, T, normalize, layout="cross", method=method)
    assert_moments(got, loop_moments(u, v, lambda k: [v[j] for j in range(6) if j != k]))
    assert isinstance(got.neg_count, int)


def test_cross_layout_paths_have_equal_gradients():
    image, text, _ = views(n=6, d=5, seed=2)
    grads = []
    for method in ("dense", "gram"):
        a, b = image.clone().requires_grad_(True), text.clone().requires_grad_(True)
        rp.rpc_loss_from_moments(rp.embedding_moments(a, b, T, True, layout="cross", method=method)).backward()
        grads.append((a.grad, b.grad))
    for x, y in zip(*grads):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)


def test_cross_layout_rejects_extra_negatives_and_unknown_layouts():
    a = torch.randn(3, 4)
    with pytest.raises(ValueError, match="takes no extra negatives"):
        rp.embedding_moments(a, a, T, layout="cross", negatives=a)
    with pytest.raises(ValueError, match="layout must be one of"):
        rp.embedding_moments(a, a, T, layout="clip")
