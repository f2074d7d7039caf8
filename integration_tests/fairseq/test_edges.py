"""Edge batches on fairseq's real wav2vec models: criterion rpc does what fairseq's own wav2vec criterion does.

Each case runs the real ``Wav2Vec2Model`` / ``Wav2VecModel`` (tiny configs of ``examples/fairseq``) under
both criterions with the same seed (same masks and negatives):

* a batch of one sample: both give a finite loss and finite gradients;
* every distractor ``-inf`` (all quantised targets equal, as with a collapsed codebook): fairseq's
  cross-entropy is 0 for every row; rpc takes the core's empty-negative-set value
  (``rpc_plugins.Objective.without_negatives``): 0 for InfoNCE (so the totals with the extra losses equal the
  host's), -(E_P[f] - beta/2 E_P[f^2]) for RPC; finite, and training goes on;
* wav2vec v1 on an utterance exactly as long as its prediction offset: no anchor at all; both give 0,
  off the graph (so fairseq's trainer fails at backward the same way for both); one frame longer: one
  anchor per utterance (a single valid time step), both finite;
* wav2vec 2.0 with a single masked time step: the model itself rejects it (no other step to draw
  negatives from), the same AssertionError under both criterions.
"""

import logging
import math

import numpy as np
import pytest
import torch
from fairseq.criterions.wav2vec_criterion import Wav2vecCriterion
from fairseq.models.wav2vec.wav2vec import Wav2VecConfig, Wav2VecModel
from fairseq.models.wav2vec.wav2vec2 import Wav2Vec2Config, Wav2Vec2Model

from rpc_fairseq.criterion import RpcCriterion

W2V2 = dict(
    extractor_mode="layer_norm",
    conv_feature_layers="[(64, 10, 5)] + [(64, 3, 2)] * 4 + [(64, 2, 2)] * 2",
    encoder_layers=2,
    encoder_embed_dim=64,
    encoder_ffn_embed_dim=128,
    encoder_attention_heads=2,
    final_dim=32,
    latent_vars=32,
    latent_groups=2,
    latent_dim=32,
    num_negatives=10,
    quantize_targets=True,
    mask_prob=0.5,
    mask_length=4,
    conv_pos=16,
    conv_pos_groups=4,
    dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    dropout_input=0.0,
    dropout_features=0.0,
    encoder_layerdrop=0.0,
)
CPC = dict(
    prediction_steps=12,
    num_negatives=10,
    conv_feature_layers="[(64, 10, 5), (64, 8, 4), (64, 4, 2), (64, 4, 2), (64, 4, 2)]",
    conv_aggregator_layers="[(64, 2, 1), (64, 3, 1), (64, 4, 1)]",
    skip_connections_agg=True,
    residual_scale=0.5,
    log_compression=True,
    dropout=0.0,
    dropout_features=0.0,
    dropout_agg=0.0,
    infonce=True,
)
LOSS_WEIGHTS = {"w2v2": [0.1, 10.0], "cpc": None}


def build(kind):
    torch.manual_seed(0)
    return Wav2Vec2Model(Wav2Vec2Config(**W2V2)) if kind == "w2v2" else Wav2VecModel(Wav2VecConfig(**CPC))


def make_sample(batch, length, **net_input):
    g = torch.Generator().manual_seed(1)
    return {"id": torch.arange(batch), "net_input": {"source": torch.randn(batch, length, generator=g), **net_input}}


def run(criterion, model, sample):
    """(loss, logging output, all gradients finite) for one forward/backward with a fixed seed."""
    model.zero_grad()
    torch.manual_seed(2)
    np.random.seed(2)  # wav2vec 2.0 draws its masks with numpy
    loss, _, log = criterion(model, sample)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return loss.detach(), log, all(bool(torch.isfinite(g).all()) for g in grads)


def both(kind, model, sample):
    host = Wav2vecCriterion(None, infonce=True, loss_weights=LOSS_WEIGHTS[kind])
    ours = RpcCriterion(None, loss_weights=LOSS_WEIGHTS[kind])
    return run(host, model, sample), run(ours, model, sample)


@pytest.mark.parametrize("kind", ["w2v2", "cpc"])
def test_batch_of_one_sample(kind):
    model = build(kind)
    (host_loss, _, host_ok), (loss, log, ok) = both(kind, model, make_sample(1, 16000))
    assert math.isfinite(float(host_loss)) and host_ok
    assert math.isfinite(float(loss)) and ok
    assert log["n_anchors"] > 0 and log["n_negatives"] > 0


def test_every_distractor_masked(caplog):
    """fairseq's cross-entropy is 0 for a row whose distractors are all -inf. rpc takes the core's value for an
    empty negative set: InfoNCE through it is 0 as well (same total as the host), RPC keeps its positive terms."""
    model = build("w2v2")
    with torch.no_grad():
        model.quantizer.vars.zero_()  # every quantised target equal: fairseq sets every distractor to -inf
    sample = make_sample(2, 16000)
    torch.manual_seed(2)
    np.random.seed(2)
    logits = model.get_logits(model(**sample["net_input"])).detach()
    assert bool(torch.isneginf(logits[:, 1:]).all()) and bool(torch.isfinite(logits[:, 0]).all())
    RpcCriterion._warned_no_negatives = False
    host = Wav2vecCriterion(None, infonce=True, loss_weights=[0.1, 10.0])
    host_loss, host_log, host_ok = run(host, model, sample)
    assert host_ok and host_log["loss_0"] == 0.0
    with caplog.at_level(logging.WARNING, logger="rpc_fairseq.criterion"):
        nce_loss, nce_log, nce_ok = run(
            RpcCriterion(None, objective="infonce", critic_scale=1.0, loss_weights=[0.1, 10.0]), model, sample
        )
        loss, log, ok = run(RpcCriterion(None, loss_weights=[0.1, 10.0]), model, sample)
    assert "no valid negative pair" in caplog.text and caplog.text.count("no valid negative pair") == 1
    assert nce_ok and nce_log["loss_0"] == 0.0 and nce_log["n_negatives"] == 0
    torch.testing.assert_close(nce_loss, host_loss)  # same total: diversity + feature penalty
    pos = logits[:, 0].double() * 0.1
    rpc_term = -(pos.mean() - 0.5 * 0.01 * (pos * pos).mean()) * len(pos)  # J = E_P[f] - beta/2 E_P[f^2]
    assert ok and math.isfinite(float(loss))
    torch.testing.assert_close(torch.tensor(log["loss_0"], dtype=torch.float64), rpc_term, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss.double(), host_loss.double() + rpc_term, rtol=1e-5, atol=1e-4)
    # training goes on: an optimiser step on this batch, then a normal batch
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    torch.nn.init.uniform_(model.quantizer.vars)
    _, log2, ok2 = run(RpcCriterion(None, loss_weights=[0.1, 10.0]), model, sample)
    assert ok2 and log2["n_negatives"] > 0


def cpc_length(model, anchors_per_step):
    """A source length whose wav2vec (v1) logits have ``anchors_per_step`` rows for a batch of one."""
    for length in range(400, 8000, 160):
        torch.manual_seed(2)
        try:
            n = model.get_logits(model(source=torch.randn(1, length))).shape[0]
        except (AssertionError, RuntimeError):
            continue
        if n == anchors_per_step:
            return length
    raise AssertionError(f"no length gives {anchors_per_step} anchors")


def test_wav2vec_v1_without_any_anchor():
    """v1 builds its logits in a fresh buffer: with no anchor they are not on the graph. Both criterions give 0
    without a grad_fn, so fairseq's trainer stops at ``loss.backward()`` the same way under either."""
    model = build("cpc")
    sample = make_sample(2, cpc_length(model, 0))
    results = []
    for criterion in (Wav2vecCriterion(None, infonce=True), RpcCriterion(None)):
        torch.manual_seed(2)
        loss, _, log = criterion(model, sample)
        assert float(loss) == 0.0
        results.append(loss.requires_grad)
        if not loss.requires_grad:
            with pytest.raises(RuntimeError, match="does not require grad"):
                loss.backward()
    assert results[0] == results[1]
    assert log["n_anchors"] == 0 and "mi_sum" not in log


def test_wav2vec_v1_single_valid_time_step():
    model = build("cpc")
    sample = make_sample(2, cpc_length(model, 1))  # one (time step, prediction step) pair per utterance
    (host_loss, _, host_ok), (loss, log, ok) = both("cpc", model, sample)
    assert math.isfinite(float(host_loss)) and host_ok
    assert math.isfinite(float(loss)) and ok and log["n_anchors"] == 2 and log["n_negatives"] > 0


def test_wav2vec2_single_masked_time_step_rejected_by_the_model_for_both():
    model = build("w2v2")
    frames = int(model._get_feat_extract_output_lengths(torch.tensor(16000)))
    mask = torch.zeros(2, frames, dtype=torch.bool)
    mask[:, 5] = True
    sample = make_sample(2, 16000, mask_indices=mask)
    for criterion in (Wav2vecCriterion(None, infonce=True), RpcCriterion(None)):
        with pytest.raises(AssertionError):
            criterion(model, sample)
