"""One process: ``infonce`` is open_clip's ClipLoss (value and gradients), RPC is the paper's objective on
open_clip's critic (a loop over the pairs), the dense and Gram paths agree, and bad input is refused."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from open_clip import ClipLoss

import rpc_plugins
from rpc_open_clip import ObjectiveClipLoss
from integration_tests.open_clip import _dist_worker as worker


def batch(n=6, d=5, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    image = F.normalize(torch.randn(n, d, generator=g, dtype=dtype), dim=1)
    text = F.normalize(image + torch.randn(n, d, generator=g, dtype=dtype), dim=1)
    return image, text


def rpc_reference(image, text, scale, bias, alpha, beta, gamma):
    """-J_RPC = -(E_P f - alpha E_Q f - beta/2 E_P f^2 - gamma/2 E_Q f^2), f(i, t) = scale <i, t> + bias,
    P the pairs (i_k, t_k), Q the pairs (i_k, t_j), j != k: a plain loop over the pairs."""
    pos, neg = [], []
    for k, j in itertools.product(range(image.shape[0]), repeat=2):
        f = scale * torch.dot(image[k], text[j]) + (0.0 if bias is None else bias)
        (pos if k == j else neg).append(f)
    pos, neg = torch.stack(pos), torch.stack(neg)
    return -(pos.mean() - alpha * neg.mean() - beta / 2 * (pos**2).mean() - gamma / 2 * (neg**2).mean())


@pytest.mark.parametrize("bias", [None, -2.0])
def test_infonce_is_clip_loss(bias):
    image, text = batch()
    ours = worker.loss_and_grads(ObjectiveClipLoss("infonce"), image, text, bias)
    theirs = worker.loss_and_grads(ClipLoss(), image, text, bias)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_infonce_is_clip_loss_in_float32_with_output_dict():
    image, text = batch(n=16, d=32, dtype=torch.float32)
    scale = torch.tensor(14.3)
    ours = ObjectiveClipLoss("infonce")(image, text, scale, output_dict=True)
    theirs = ClipLoss()(image, text, scale, output_dict=True)
    assert ours.keys() == theirs.keys() == {"contrastive_loss"}
    torch.testing.assert_close(ours["contrastive_loss"], theirs["contrastive_loss"])
    assert ours["contrastive_loss"].dtype == torch.float32


@pytest.mark.parametrize("bias", [None, -1.5])
@pytest.mark.parametrize("method", ["dense", "gram"])
@pytest.mark.parametrize("knobs", [{}, {"alpha": 1.0, "beta": 0.3, "gamma": 0.2}])
def test_rpc_is_the_paper_objective_on_open_clips_critic(bias, method, knobs):
    image, text = batch()
    resolved = rpc_plugins.objective_options("rpc", knobs)
    ours = worker.loss_and_grads(ObjectiveClipLoss("rpc", method=method, **knobs), image, text, bias)

    def reference(i, t, s, *b):
        return rpc_reference(i, t, s, b[0] if b else None, **resolved)

    want = worker.loss_and_grads(reference, image, text, bias)
    for a, b in zip(ours, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("objective", ["nwj", "js", "dv", "smile", "mio"])
def test_score_objectives_match_a_loop_over_both_directions(objective):
    """Every objective on scores: the mean of its image->text and text->image values, each anchor's
    negatives the other rows' partners (built here pair by pair)."""
    image, text = batch(n=5)
    scale, bias = torch.tensor(2.5, dtype=torch.float64), torch.tensor(0.3, dtype=torch.float64)
    fn = rpc_plugins.get_objective(objective, **({"clip": 5.0} if objective == "smile" else {}))
    n = image.shape[0]

    def direction(a, b):
        scores = torch.stack([torch.stack([scale * torch.dot(a[k], b[j]) + bias for j in range(n)]) for k in range(n)])
        pos = torch.stack([scores[k, k] for k in range(n)])
        return fn(pos, scores, ~torch.eye(n, dtype=torch.bool))

    want = (direction(image, text) + direction(text, image)) / 2
    if objective == "mio":  # MIO's l2 term between the two modalities' normalised embeddings (weight 1)
        want = want + F.mse_loss(image, text)
    got = ObjectiveClipLoss(objective)(image, text, scale, bias)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_rpc_gradient_reaches_logit_scale_and_bias():
    image, text = batch()
    _, _, _, d_scale, d_bias = worker.loss_and_grads(ObjectiveClipLoss("rpc"), image, text, -1.0)
    assert float(d_scale) != 0.0 and float(d_bias) != 0.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"objective": "clip"}, "unknown objective 'clip'"),
        ({"objective": "rpc", "temperature": 0.1}, "temperature"),
        ({"objective": "rpc", "alpha": -1.0}, "alpha"),
        ({"objective": "smile", "clip": 0.0}, "clip"),
        ({"objective": "infonce", "reduction": "all_reduce"}, "reduction='all_reduce'"),
        ({"objective": "rpc", "reduction": "sum"}, "reduction must be"),
        ({"objective": "rpc", "method": "fast"}, "method must be"),
        ({"objective": "rpc", "use_horovod": True}, "horovod"),
        ({"objective": "rpc", "rank": 2, "world_size": 2}, "rank"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ObjectiveClipLoss(**kwargs)


@pytest.mark.parametrize("objective", ["rpc", "infonce"])
def test_bad_features_are_refused(objective):
    loss = ObjectiveClipLoss(objective)
    image, text = batch()
    with pytest.raises(ValueError, match="same shape"):
        loss(image, text[:-1], torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        loss(image[None], text[None], torch.tensor(1.0))
    with pytest.raises(ValueError, match="logit_scale must be a scalar"):
        loss(image, text, torch.ones(2))


def test_rpc_loss_is_float32_for_low_precision_features():
    image, text = batch(n=8, d=16, dtype=torch.float32)
    reference = ObjectiveClipLoss("rpc")(image, text, torch.tensor(5.0))
    low = ObjectiveClipLoss("rpc")(image.bfloat16(), text.bfloat16(), torch.tensor(5.0))
    assert reference.dtype == low.dtype == torch.float32
    torch.testing.assert_close(low, reference, rtol=2e-2, atol=2e-2)  # bfloat16 features: 8 bits of mantissa
