"""bf16 autocast: the scores are computed in float32 (as HF's cosine), the loss is finite and close to float32."""

import pytest
import torch

from rpc_plugins import OBJECTIVES
from rpc_transformers import Wav2Vec2PretrainingLoss

from .conftest import make_batch, tiny_model


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_bf16_autocast_is_finite_and_close_to_float32(name):
    model = tiny_model().eval()
    x, mask, negatives = make_batch(model.config, seed=8)
    loss_fn = Wav2Vec2PretrainingLoss(model.config, objective=name)
    full = loss_fn(model(x, mask_time_indices=mask), mask, negatives)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, mask_time_indices=mask)
        half = loss_fn(out, mask, negatives)
    assert out.projected_states.dtype == torch.bfloat16  # autocast is really on
    assert half.loss.dtype == torch.float32 and torch.isfinite(half.loss)
    half.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    # bf16 keeps ~3 significant digits of each projection; the per-frame loss moves by far less than its scale
    per_frame = lambda r: float(r.contrastive_loss.detach()) / r.num_masked  # noqa: E731
    assert abs(per_frame(half) - per_frame(full)) <= 0.05 * max(1.0, abs(per_frame(full)))


def test_bf16_infonce_tracks_hf_under_autocast():
    model = tiny_model().eval()
    x, mask, negatives = make_batch(model.config, seed=9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        hf = model(x, mask_time_indices=mask, sampled_negative_indices=negatives)
        mine = Wav2Vec2PretrainingLoss(model.config, objective="infonce")(hf, mask, negatives)
    # HF rounds its logits to bf16 before the cross-entropy; these stay float32: equal to bf16's resolution
    assert torch.isfinite(hf.loss) and torch.isfinite(mine.loss)
    torch.testing.assert_close(mine.loss, hf.loss.float(), rtol=2e-2, atol=0)
