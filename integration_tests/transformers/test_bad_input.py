"""Bad input gets a ValueError that names the problem, or HF's own (finite) value; never NaN."""

import pytest
import torch

from rpc_plugins import OBJECTIVES
from rpc_transformers import Wav2Vec2PretrainingLoss

from .conftest import make_batch, tiny_model


@pytest.fixture(scope="module")
def forward():
    model = tiny_model().eval()
    x, mask, negatives = make_batch(model.config, seed=7)
    with torch.no_grad():
        out = model(x, mask_time_indices=mask)
    return model, out, mask, negatives


def loss_fn(model, **kw):
    return Wav2Vec2PretrainingLoss(model.config, **kw)


@pytest.mark.parametrize("missing", ["mask_time_indices", "sampled_negative_indices"])
def test_missing_mask_or_negatives(forward, missing):
    model, out, mask, negatives = forward
    args = {"mask_time_indices": mask, "sampled_negative_indices": negatives, missing: None}
    with pytest.raises(ValueError, match=f"{missing} is required"):
        loss_fn(model)(out, **args)


def test_outputs_without_projected_states(forward):
    model, out, mask, negatives = forward
    with pytest.raises(ValueError, match="projected_quantized_states"):
        loss_fn(model)({"projected_states": out.projected_states}, mask, negatives)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda m, n: (m[:, :-1], n), "mask_time_indices has shape"),
        (lambda m, n: (m, n[:, :-1]), "sampled_negative_indices has shape"),
        (lambda m, n: (m, n[..., :0]), "num_negatives >= 1"),
        (lambda m, n: (m.float(), n), "bool or integer"),
        (lambda m, n: (m.long() * 2, n), "only 0 and 1"),
        (lambda m, n: (m, n.float()), "integer tensor"),
        (lambda m, n: (m, n + 10_000), "index the flattened batch"),
        (lambda m, n: (m, n - 10_000), "index the flattened batch"),
    ],
)
def test_mismatched_shapes_dtypes_and_indices(forward, bad, match):
    model, out, mask, negatives = forward
    with pytest.raises(ValueError, match=match):
        loss_fn(model)(out, *bad(mask, negatives))


def test_nan_in_the_forward_is_named(forward):
    model, out, mask, negatives = forward
    broken = dict(out)
    broken["projected_states"] = out.projected_states.clone()
    broken["projected_states"][0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="projected_states contains NaN"):
        loss_fn(model)(broken, mask, negatives)


def test_no_masked_frame_is_an_error_where_hf_gives_nan(forward):
    model, out, mask, negatives = forward
    none = torch.zeros_like(mask)
    hf = model(make_batch(model.config, seed=7)[0], mask_time_indices=none, sampled_negative_indices=negatives)
    assert torch.isnan(hf.loss)  # the host's behaviour that this adapter refuses to copy
    with pytest.raises(ValueError, match="masks no frame"):
        loss_fn(model)(out, none, negatives)


def test_unknown_objective_and_bad_settings(forward):
    model = forward[0]
    with pytest.raises(ValueError, match="unknown objective"):
        loss_fn(model, objective="simclr")
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        loss_fn(model, alpha=-1.0)
    with pytest.raises(ValueError, match="critic_scale must be > 0"):
        loss_fn(model, critic_scale=0.0)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_every_distractor_equal_to_its_target_is_finite_and_hf_for_infonce(forward, name, caplog):
    """Each masked frame's distractors all point at the frame itself: HF masks them all (-inf) and its
    cross-entropy is 0; here the objective is taken over the positives alone, never NaN."""
    model, _, mask, negatives = forward
    x = make_batch(model.config, seed=7)[0]
    own = torch.arange(mask.numel()).reshape(mask.shape)[..., None].expand_as(negatives).contiguous()
    torch.manual_seed(0)
    out = model(x, mask_time_indices=mask)
    result = loss_fn(model, objective=name)(out, mask, own)
    assert result.logs["num_negatives"] == 0
    assert torch.isfinite(result.loss) and torch.isfinite(result.contrastive_loss)
    result.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    if name == "infonce":
        hf = model(x, mask_time_indices=mask, sampled_negative_indices=own)
        assert float(hf.contrastive_loss.detach()) == 0.0 == float(result.contrastive_loss.detach())
        torch.testing.assert_close(result.loss, hf.loss, rtol=1e-6, atol=0)
