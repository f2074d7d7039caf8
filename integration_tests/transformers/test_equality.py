"""objective="infonce" equals HF's own Wav2Vec2ForPreTraining loss in value and gradients; every objective
equals a slow reference written from the formulas on HF's logits."""

import math

import pytest
import torch

from rpc_plugins import OBJECTIVES
from rpc_transformers import Wav2Vec2PretrainingLoss

from .conftest import make_batch, tiny_model


def grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def assert_grads_close(a, b, rtol=1e-4):
    """Each parameter's gradient to rtol, with an absolute floor of 1e-6 of the largest gradient (a gradient that
    is 0 in exact arithmetic, e.g. an attention key bias, is float32 noise in both)."""
    assert a.keys() == b.keys() and len(a) > 10
    floor = 1e-6 * max(float(g.abs().max()) for g in b.values())
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=rtol, atol=floor, msg=name)


def hf_reference(model, x, mask, negatives):
    """HF's loss on a fresh forward (same seeds: the gumbel noise repeats)."""
    torch.manual_seed(123)
    model.zero_grad()
    out = model(x, mask_time_indices=mask, sampled_negative_indices=negatives)
    out.loss.backward()
    return out, grads(model)


def ours(model, x, mask, negatives, **kw):
    torch.manual_seed(123)
    model.zero_grad()
    out = model(x, mask_time_indices=mask)  # no negatives: HF computes no loss of its own
    result = Wav2Vec2PretrainingLoss(model.config, **kw)(out, mask, negatives)
    result.loss.backward()
    return result, grads(model)


@pytest.mark.parametrize("train", [True, False])
def test_infonce_equals_hf_loss_value_and_gradients(train):
    model = tiny_model()
    model.train(train)  # train: gumbel-softmax codes with a differentiable perplexity; eval: hard codes
    x, mask, negatives = make_batch(model.config, batch=3, seed=1)
    hf, hf_grads = hf_reference(model, x, mask, negatives)
    mine, my_grads = ours(model, x, mask, negatives, objective="infonce")
    assert mine.num_masked == int(mask.sum()) > 10
    torch.testing.assert_close(mine.contrastive_loss, hf.contrastive_loss.float(), rtol=1e-5, atol=0)
    torch.testing.assert_close(mine.diversity_loss, hf.diversity_loss, rtol=1e-6, atol=0)
    torch.testing.assert_close(mine.loss, hf.loss.float(), rtol=1e-5, atol=0)
    assert_grads_close(my_grads, hf_grads)


def test_infonce_equals_hf_with_distractors_equal_to_the_target():
    """A codebook of 2 x 2 codes: many distractors equal their target; HF sets them to -inf, so do we."""
    model = tiny_model(num_codevector_groups=2, num_codevectors_per_group=2).eval()
    x, mask, negatives = make_batch(model.config, batch=2, seed=2)
    hf, hf_grads = hf_reference(model, x, mask, negatives)
    mine, my_grads = ours(model, x, mask, negatives, objective="infonce")
    assert 0 < mine.logs["num_negatives"] < mask.sum() * model.config.num_negatives  # some were masked
    torch.testing.assert_close(mine.loss, hf.loss.float(), rtol=1e-5, atol=0)
    assert_grads_close(my_grads, hf_grads)


def test_infonce_equals_hf_at_another_temperature_and_diversity_weight():
    model = tiny_model(contrastive_logits_temperature=0.5, diversity_loss_weight=0.7).train()
    x, mask, negatives = make_batch(model.config, batch=2, seed=3)
    hf, hf_grads = hf_reference(model, x, mask, negatives)
    mine, my_grads = ours(model, x, mask, negatives, objective="infonce")
    torch.testing.assert_close(mine.loss, hf.loss.float(), rtol=1e-5, atol=0)
    assert_grads_close(my_grads, hf_grads)


def slow_logits(out, mask, negatives, temperature):
    """Per masked frame, in float64 loops: [cos(c, q_own), cos(c, q_neg_k)...] / T, -inf where q_neg == q_own."""
    c, q = out.projected_states.double(), out.projected_quantized_states.double()
    flat = q.reshape(-1, q.shape[-1])
    rows = []
    for b, t in mask.nonzero().tolist():
        own = q[b, t]
        row = [float(torch.dot(c[b, t], own) / (c[b, t].norm() * own.norm())) / temperature]
        for k in negatives[b, t].tolist():
            other = flat[k]
            same = bool(
                (
                    out.projected_quantized_states.reshape(-1, q.shape[-1])[k] == out.projected_quantized_states[b, t]
                ).all()
            )
            row.append(
                -math.inf if same else float(torch.dot(c[b, t], other) / (c[b, t].norm() * other.norm())) / temperature
            )
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float64)


def reference_objective(name, f, hyper):
    """Each objective from its formula on f (A, 1 + K), E_Q pooled over valid distractors."""
    pos, neg = f[:, 0], f[:, 1:]
    valid = torch.isfinite(neg)
    q = neg[valid]
    if name == "infonce":
        return float((torch.logsumexp(f, dim=1) - pos).mean())
    if name == "rpc":
        a, b, g = hyper["alpha"], hyper["beta"], hyper["gamma"]
        return -float(pos.mean() - a * q.mean() - b / 2 * (pos**2).mean() - g / 2 * (q**2).mean())
    if name == "nwj":
        return -float(pos.mean() - torch.exp(q - 1).mean())
    if name == "dv":
        return -float(pos.mean() - torch.log(torch.exp(q).mean()))
    if name == "js":
        return float(torch.nn.functional.softplus(-pos).mean() + torch.nn.functional.softplus(q).mean())
    return None  # smile / mio: covered by the core's own reference tests


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_every_objective_on_hf_scores_matches_its_formula(name):
    model = tiny_model(num_codevectors_per_group=3).eval()
    x, mask, negatives = make_batch(model.config, batch=2, seed=4)
    with torch.no_grad():
        out = model(x, mask_time_indices=mask)
    loss_fn = Wav2Vec2PretrainingLoss(
        model.config, objective=name, alpha=0.5, beta=0.02, gamma=0.2, diversity_loss_weight=0.0
    )
    result = loss_fn(out, mask, negatives)
    assert torch.isfinite(result.loss)
    f = slow_logits(out, mask, negatives, model.config.contrastive_logits_temperature) * loss_fn.critic_scale
    assert torch.isinf(f).any()  # 3 codes per group: the -inf rule is exercised
    expected = reference_objective(name, f, loss_fn.hyper)
    if expected is not None:
        assert math.isclose(float(result.contrastive_loss), expected * f.shape[0], rel_tol=1e-5, abs_tol=1e-4)
    valid = torch.isfinite(f[:, 1:])
    assert math.isclose(result.logs["E_pos"], float(f[:, 0].mean()), rel_tol=1e-5, abs_tol=1e-6)
    assert math.isclose(result.logs["E_neg"], float(f[:, 1:][valid].mean()), rel_tol=1e-5, abs_tol=1e-6)
    nce = (torch.log1p(valid.sum(1).double()) - (torch.logsumexp(f, dim=1) - f[:, 0])).mean()
    assert math.isclose(result.logs["mi_nce"], float(nce), rel_tol=1e-5, abs_tol=1e-6)


def test_rpc_defaults_and_mi_estimate():
    model = tiny_model().eval()
    x, mask, negatives = make_batch(model.config, seed=5)
    with torch.no_grad():
        out = model(x, mask_time_indices=mask)
    result = Wav2Vec2PretrainingLoss(model.config)(out, mask, negatives)  # rpc, alpha 0.3, beta 0.01, gamma 0.1
    f = slow_logits(out, mask, negatives, model.config.contrastive_logits_temperature) * 0.1  # f = cosine
    assert float(f[torch.isfinite(f)].abs().max()) <= 1.0 + 1e-6
    expected = reference_objective("rpc", f, dict(alpha=0.3, beta=0.01, gamma=0.1)) * f.shape[0]
    assert math.isclose(float(result.contrastive_loss), expected, rel_tol=1e-5)
    r = (0.1 * float(f[:, 0].mean()) + 0.3) / (1 - 0.01 * float(f[:, 0].mean()))
    assert math.isclose(result.logs["mi_rpc"], math.log(max(r, 1e-4)), rel_tol=1e-6)
