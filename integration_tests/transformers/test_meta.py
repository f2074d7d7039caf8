"""``Wav2Vec2PretrainingLoss`` forward and backward on ``meta`` tensors: it reads back only the values listed in
``adapters/README.md`` and makes no tensor off the inputs' device.

The inputs are a real ``Wav2Vec2ForPreTraining`` forward (CPU) moved to ``meta``. The listed reads (the masked
frames, whether any distractor is valid, under torch.distributed the ranks' counts) are answered from the CPU
copies and counted; every other value read raises on meta, and ``OnDevice`` records any tensor made elsewhere.
RPC: Tsai et al., ICLR 2021, arXiv 2103.11275.
"""

import pytest
import torch

import rpc_plugins
import rpc_transformers.loss as loss_module
from rpc_transformers import Wav2Vec2PretrainingLoss

from integration_tests.device_checks import OnDevice
from integration_tests.transformers.conftest import make_batch, tiny_model


def cpu_batch(seed=3):
    model = tiny_model().eval()
    x, mask, negatives = make_batch(model.config, batch=2, seed=seed)
    with torch.no_grad():
        out = model(x, mask_time_indices=mask)
    fields = ("projected_states", "projected_quantized_states", "codevector_perplexity")
    return model.config, {k: getattr(out, k) for k in fields}, mask, negatives


def to_meta(outputs, mask, negatives):
    leaves = {k: v.detach().to("meta").requires_grad_(True) for k, v in outputs.items()}
    return leaves, mask.to("meta"), negatives.to("meta")


def answer_reads(monkeypatch, mask_cpu, any_valid, counts=None):
    """Answer the adapter's listed host reads from the CPU copies (made here, before any device check runs);
    returns the list of reads made."""
    reads = []
    frames = mask_cpu.reshape(-1).nonzero().squeeze(1).to("meta")

    def masked_frames(mask):
        reads.append("masked_frames")
        assert mask.device.type == "meta"
        return frames

    def any_(valid):
        reads.append("any")
        assert valid.device.type == "meta"
        return any_valid

    def read_counts(t):
        reads.append("counts")
        assert t.device.type == "meta"
        return list(counts)

    monkeypatch.setattr(loss_module, "masked_frames", masked_frames)
    monkeypatch.setattr(loss_module, "_any", any_)
    monkeypatch.setattr(loss_module, "_read_counts", read_counts)
    return reads


@pytest.mark.parametrize("any_valid", [True, False], ids=["negatives", "no-valid-negative"])
@pytest.mark.parametrize("objective", sorted(rpc_plugins.OBJECTIVES))
def test_forward_and_backward_on_meta(objective, any_valid, monkeypatch):
    config, outputs, mask, negatives = cpu_batch()
    reads = answer_reads(monkeypatch, mask, any_valid)
    leaves, mask_m, negatives_m = to_meta(outputs, mask, negatives)
    loss_fn = Wav2Vec2PretrainingLoss(config, objective=objective)
    with OnDevice("meta") as mode:
        result = loss_fn(leaves, mask_m, negatives_m)
        result.loss.backward()
    assert mode.off_device == [], mode.off_device[:5]
    assert reads == ["masked_frames", "any"]
    assert result.loss.device.type == "meta" and result.loss.dim() == 0
    assert result.num_masked == int(mask.sum())
    for name in ("projected_states", "projected_quantized_states"):
        assert leaves[name].grad is not None and leaves[name].grad.device.type == "meta", name


def test_logs_are_read_only_when_asked_for(monkeypatch):
    """The logs are 0-dim tensors on the device until first read (the Trainer sums them there), then read back
    at once (their values: ``test_equality``)."""
    config, outputs, mask, negatives = cpu_batch()
    answer_reads(monkeypatch, mask, True)
    leaves, mask_m, negatives_m = to_meta(outputs, mask, negatives)
    result = Wav2Vec2PretrainingLoss(config, objective="rpc")(leaves, mask_m, negatives_m)
    assert {"E_pos", "E_neg", "mi_nce", "mi_rpc", "accuracy"} <= set(result.logs.tensors)
    assert all(t.device.type == "meta" and t.dim() == 0 for t in result.logs.tensors.values())
    with pytest.raises((RuntimeError, NotImplementedError)):  # a read: meta has no values
        result.logs["E_pos"]
