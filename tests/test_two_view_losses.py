"""RPCLoss / ContrastiveLoss against the loop reference of the authors' SimCLR layout."""

import pytest
import torch

import rpc_plugins as rp
from tests import reference


def views(n=6, d=5, seed=0, dtype=torch.float64, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=dtype) * scale, torch.randn(n, d, generator=g, dtype=dtype) * scale)


@pytest.mark.parametrize("method", ["dense", "gram"])
@pytest.mark.parametrize("normalize,temperature", [(True, 0.1), (True, 0.5), (False, 3.0)])
@pytest.mark.parametrize("extra", [0, 3])
def test_rpc_loss_matches_loop_reference(method, normalize, temperature, extra):
    out0, out1 = views(seed=extra)
    negatives = torch.randn(extra, 5, dtype=torch.float64) if extra else None
    loss_fn = rp.RPCLoss(alpha=0.4, beta=0.05, gamma=0.7, temperature=temperature, normalize=normalize, method=method)
    want = reference.two_view_loss_loop(
        "rpc", out0, out1, temperature, normalize, negatives, alpha=0.4, beta=0.05, gamma=0.7
    )
    torch.testing.assert_close(loss_fn(out0, out1, negatives), torch.as_tensor(want), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
def test_every_objective_matches_loop_reference(name):
    out0, out1 = views(n=5, d=4, seed=1)
    kw = {"rpc": dict(alpha=0.2, beta=0.1, gamma=0.3), "smile": dict(clip=2.0)}.get(name, {})
    loss_fn = rp.ContrastiveLoss(
        name, temperature=0.5, **({} if name == "mio" else kw), **({"l2_weight": 0.0} if name == "mio" else {})
    )
    want = reference.two_view_loss_loop(name, out0, out1, 0.5, True, **kw)
    torch.testing.assert_close(loss_fn(out0, out1), torch.as_tensor(want), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
def test_symmetric_in_the_two_views(name):
    out0, out1 = views(seed=2)
    loss_fn = rp.ContrastiveLoss(name, temperature=0.3)
    torch.testing.assert_close(loss_fn(out0, out1), loss_fn(out1, out0), rtol=1e-12, atol=1e-12)


def test_rpc_paths_agree_with_generic_masked_scores():
    out0, out1 = views(n=9, d=3, seed=3)
    z0, z1, _ = rp.moments.prepare_views(out0, out1, normalize=True)
    pos, neg, mask = rp.pairing.two_view_scores(rp.pairing.two_view_pairs(z0, z1), temperature=0.2)
    want = rp.rpc_loss(pos, neg, mask, alpha=0.3, beta=0.01, gamma=0.1)
    for method in ("dense", "gram", "auto"):
        got = rp.RPCLoss(temperature=0.2, method=method)(out0, out1)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def nt_xent_lightly_semantics(out0, out1, temperature):
    """NT-Xent as lightly's NTXentLoss computes it (no memory bank): 2N x 2N cosine logits,
    diagonal removed, cross-entropy with the other view as the label, mean over the 2N anchors."""
    z = torch.nn.functional.normalize(torch.cat([out0, out1]), dim=1)
    n = out0.shape[0]
    logits = z @ z.t() / temperature
    logits = logits[~torch.eye(2 * n, dtype=torch.bool)].view(2 * n, 2 * n - 1)
    labels = torch.cat([torch.arange(n - 1, 2 * n - 1), torch.arange(0, n)])
    return torch.nn.functional.cross_entropy(logits, labels)


@pytest.mark.parametrize("n", [2, 3, 8])
def test_infonce_equals_nt_xent(n):
    out0, out1 = views(n=n, d=7, seed=n)
    torch.testing.assert_close(
        rp.ContrastiveLoss("infonce", temperature=0.5)(out0, out1),
        nt_xent_lightly_semantics(out0, out1, 0.5),
        rtol=1e-12,
        atol=1e-12,
    )


def test_mio_adds_l2_between_normalised_views():
    out0, out1 = views(seed=4)
    without = rp.ContrastiveLoss("mio", temperature=0.5, l2_weight=0.0)(out0, out1)
    with_l2 = rp.ContrastiveLoss("mio", temperature=0.5, l2_weight=2.0)(out0, out1)
    z0, z1 = (torch.nn.functional.normalize(x, dim=1) for x in (out0, out1))
    torch.testing.assert_close(with_l2 - without, 2.0 * ((z0 - z1) ** 2).mean())


def test_mio_separate_positive_and_negative_temperatures():
    out0, out1 = views(n=4, d=3, seed=5)
    anchors = reference.two_view_pairs_loop(out0, out1, 1.0, True)
    pos = torch.stack([p for p, _ in anchors]) / 0.2
    neg = torch.stack([torch.stack(n) for _, n in anchors]) / 0.7
    want = reference.mio(pos, neg)
    got = rp.ContrastiveLoss("mio", pos_temperature=0.2, neg_temperature=0.7, l2_weight=0.0)(out0, out1)
    torch.testing.assert_close(got, torch.as_tensor(want), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["dense", "gram"])
def test_rpc_gradcheck(method):
    out0, out1 = views(n=4, d=3, seed=6)
    out0.requires_grad_(True)
    out1.requires_grad_(True)
    loss_fn = rp.RPCLoss(temperature=0.5, method=method)
    assert torch.autograd.gradcheck(loss_fn, (out0, out1))


def test_batch_of_one_with_extra_negatives():
    out0, out1 = views(n=1, d=4, seed=7)
    negatives = torch.randn(5, 4, dtype=torch.float64)
    for name in rp.OBJECTIVES:
        loss = rp.ContrastiveLoss(name)(out0, out1, negatives)
        assert torch.isfinite(loss)
    want = reference.two_view_loss_loop("rpc", out0, out1, 0.1, True, negatives, alpha=0.3, beta=0.01, gamma=0.1)
    torch.testing.assert_close(rp.RPCLoss()(out0, out1, negatives), torch.as_tensor(want))


def test_paper_presets():
    cifar = rp.RPCLoss.from_paper("cifar10")
    assert (cifar.knobs, cifar.temperature, cifar.normalize) == (dict(alpha=0.0, beta=0.001, gamma=1.0), 128.0, False)
    r50 = rp.RPCLoss.from_paper("imagenet-resnet50")
    assert (r50.knobs, r50.temperature) == (dict(alpha=0.3, beta=0.01, gamma=0.1), 32.0)
    assert rp.RPCLoss.from_paper("imagenet-resnet152x2", temperature=16.0).temperature == 16.0


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    x = torch.randn(64, 10)
    net = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    loss_fn = rp.RPCLoss(temperature=0.5)
    losses = []
    for _ in range(30):
        loss = loss_fn(net(x + 0.1 * torch.randn_like(x)), net(x + 0.1 * torch.randn_like(x)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", sorted(rp.OBJECTIVES))
def test_queue_loss_is_the_moco_layout(name):
    """queue_loss: anchors out0, positive out1[i], negatives the queue rows only (as given)."""
    out0, out1 = views(n=5, d=4, seed=8)
    queue = torch.nn.functional.normalize(torch.randn(7, 4, dtype=torch.float64), dim=1)
    loss_fn = rp.ContrastiveLoss(name, temperature=0.5, **({"l2_weight": 0.0} if name == "mio" else {}))
    z0, z1 = (torch.nn.functional.normalize(x, dim=1) for x in (out0, out1))
    pos, neg = (z0 * z1).sum(1) / 0.5, z0 @ queue.t() / 0.5
    hyper = {} if name == "mio" else loss_fn.knobs  # mio: both temperatures 0.5 here
    want = reference.OBJECTIVE_REFERENCES[name](pos, neg, None, **hyper)
    torch.testing.assert_close(loss_fn.queue_loss(out0, out1, queue), torch.as_tensor(want), rtol=1e-10, atol=1e-12)


def test_hyperparameters_are_resolved():
    assert rp.ContrastiveLoss("rpc", alpha=0.2).knobs == dict(alpha=0.2, beta=0.01, gamma=0.1)
    assert rp.ContrastiveLoss("mio", temperature=0.3).knobs == dict(
        pos_temperature=0.3, neg_temperature=0.3, l2_weight=1.0
    )
    assert rp.ContrastiveLoss("smile", clip=2.0).knobs == dict(clip=2.0)
    assert rp.ContrastiveLoss("infonce").knobs == {}
