"""No host synchronisation in a loss's forward + backward on CUDA.

Inside ``torch.cuda.set_sync_debug_mode("error")`` any call that makes the host wait for the device (a
value read by ``float``, ``bool`` or ``.item()``, a blocking copy between host and device, ``nonzero``
behind a boolean index) raises. Each case warms up once outside the check, then runs forward + backward
inside it. Covered: the core's losses (RPCLoss on both paths, ContrastiveLoss for every objective, its
queue layout) and each adapter's loss call (rpc_lightly, rpc_solo, rpc_transformers, rpc_fairseq,
rpc_open_clip), on the real host package (a host missing from the machine
skips its cases). Where the host's own loss reads values (lightly's memory bank reads its pointer; Hugging
Face's and fairseq's wav2vec losses test for distractors equal to their target), the adapter may read
as many and no more: both are counted in sync debug mode "warn" on the same inputs.
"""

import pytest
import torch
from torch import nn

import rpc_plugins as rp

from .helpers import count_host_syncs, leaf, no_host_sync, views

N, D, BANK = 256, 128, 1024


def forward_backward(loss_fn, *inputs):
    loss = loss_fn(*inputs)
    loss.backward()
    return loss


def assert_no_sync(device, loss_fn, *inputs):
    forward_backward(loss_fn, *leaf(*inputs))  # warm-up: first calls may set up handles and caches
    tensors = leaf(*inputs)
    with no_host_sync(device):
        loss = forward_backward(loss_fn, *tensors)
    assert loss.shape == () and all(t.grad is not None for t in tensors if t.requires_grad)


CORE = {
    "RPCLoss()": lambda: rp.RPCLoss(),
    "RPCLoss(method='gram')": lambda: rp.RPCLoss(method="gram"),
    "RPCLoss(method='dense')": lambda: rp.RPCLoss(method="dense"),
    "RPCLoss.from_paper('cifar10')": lambda: rp.RPCLoss.from_paper("cifar10"),
    **{f"ContrastiveLoss('{o}')": (lambda o=o: rp.ContrastiveLoss(o)) for o in sorted(rp.OBJECTIVES)},
}


@pytest.mark.parametrize("extra", [0, BANK])
@pytest.mark.parametrize("name", list(CORE))
def test_core_two_view_losses(device, name, extra):
    out0, out1, negatives = views(N, D, device, extra=extra)
    loss_fn = CORE[name]()
    assert_no_sync(device, lambda a, b: loss_fn(a, b, negatives), out0, out1)


@pytest.mark.parametrize("objective", sorted(rp.OBJECTIVES))
def test_core_queue_loss(device, objective):
    out0, out1, queue = views(N, D, device, extra=BANK)
    loss_fn = rp.ContrastiveLoss(objective)
    assert_no_sync(device, lambda a, b: loss_fn.queue_loss(a, b, queue), out0, out1)


def test_rpc_loss_under_bf16_autocast(device):
    out0, out1, _ = views(N, D, device)

    def loss_fn(a, b):
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            return rp.RPCLoss()(a.bfloat16(), b.bfloat16())

    assert_no_sync(device, loss_fn, out0, out1)


@pytest.mark.parametrize("objective", sorted(rp.OBJECTIVES))
def test_rpc_lightly(device, objective):
    pytest.importorskip("lightly")
    rpc_lightly = pytest.importorskip("rpc_lightly")
    out0, out1, _ = views(N, D, device)
    loss_fn = rpc_lightly.RPCLoss() if objective == "rpc" else rpc_lightly.ContrastiveLoss(objective)
    assert_no_sync(device, loss_fn.to(device), out0, out1)


def syncs(device, loss_fn, *inputs):
    """Synchronising calls of one forward + backward, after a warm-up."""
    forward_backward(loss_fn, *leaf(*inputs))
    tensors = leaf(*inputs)
    with count_host_syncs(device) as counted:
        forward_backward(loss_fn, *tensors)
    return counted.n


@pytest.mark.parametrize("objective", ["rpc", "infonce"])
def test_rpc_lightly_memory_bank_reads_no_more_than_lightly(device, objective):
    lightly_loss = pytest.importorskip("lightly.loss")
    rpc_lightly = pytest.importorskip("rpc_lightly")
    out0, out1, _ = views(N, D, device)
    ours = rpc_lightly.ContrastiveLoss(objective, memory_bank_size=(BANK, D)).to(device)
    host = lightly_loss.NTXentLoss(memory_bank_size=(BANK, D)).to(device)
    assert syncs(device, ours, out0, out1) <= syncs(device, host, out0, out1)


@pytest.mark.parametrize("objective", sorted(rp.OBJECTIVES))
def test_rpc_solo_loss_switch(device, objective):
    pytest.importorskip("solo")
    omegaconf = pytest.importorskip("omegaconf")
    from rpc_solo.loss_switch import LossSwitch
    from rpc_solo.pairs import simclr_pairs

    cfg = omegaconf.OmegaConf.create({"loss": objective, "method_kwargs": {"temperature": 0.2}})
    switch = LossSwitch.from_cfg(cfg, "simclr")
    out0, out1, _ = views(N, D, device)
    ids = torch.arange(N, device=device).repeat(2)
    assert_no_sync(device, lambda a, b: switch(*simclr_pairs(torch.cat([a, b]), ids, switch.normalize)), out0, out1)


def tiny_wav2vec2(device):
    """A random-weight Hugging Face Wav2Vec2ForPreTraining, its audio, mask and sampled distractors (no download)."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.wav2vec2 import modeling_wav2vec2 as hf

    config = transformers.Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_codevector_groups=2,
        codevector_dim=32,
        proj_codevector_dim=16,
        num_negatives=5,
        mask_time_prob=0.5,
        mask_time_length=2,
        do_stable_layer_norm=True,
        feat_extract_norm="layer",
    )
    torch.manual_seed(0)
    model = hf.Wav2Vec2ForPreTraining(config).to(device)
    audio = torch.randn(4, 3200, device=device)
    frames = int(model._get_feat_extract_output_lengths(3200))
    mask = hf._compute_mask_indices((4, frames), mask_prob=0.5, mask_length=2)
    negatives = hf._sample_negative_indices((4, frames), config.num_negatives, mask_time_indices=mask)
    mask = torch.tensor(mask, dtype=torch.bool, device=device)
    negatives = torch.tensor(negatives, dtype=torch.long, device=device)
    return model, audio, mask, negatives


def test_rpc_transformers_reads_no_more_than_hugging_face(device):
    rpc_transformers = pytest.importorskip("rpc_transformers")
    model, audio, mask, negatives = tiny_wav2vec2(device)

    def host_reads(with_loss):
        """HF's model forward + backward with its own loss, or without (the difference: what its loss reads)."""

        def step():
            torch.manual_seed(1)  # the same quantizer draws in both runs
            if with_loss:
                out = model(audio, mask_time_indices=mask, sampled_negative_indices=negatives)
                out.loss.backward()
            else:
                out = model(audio, mask_time_indices=mask)
                (out.projected_states.sum() + out.projected_quantized_states.sum()).backward()

        step()
        with count_host_syncs(device) as counted:
            step()
        return counted.n

    host = host_reads(with_loss=True) - host_reads(with_loss=False)
    torch.manual_seed(1)
    out = model(audio, mask_time_indices=mask)
    fields = ("projected_states", "projected_quantized_states", "codevector_perplexity")
    loss_fn = rpc_transformers.Wav2Vec2PretrainingLoss(model.config, objective="rpc")

    def ours(*tensors):
        return loss_fn(dict(zip(fields, tensors)), mask, negatives).loss

    assert syncs(device, ours, *(getattr(out, f) for f in fields)) <= max(host, 0)


def test_rpc_fairseq_criterion_reads_no_more_than_fairseq(device):
    pytest.importorskip("fairseq")
    from fairseq.criterions.wav2vec_criterion import Wav2vecCriterion
    from fairseq.models.wav2vec.wav2vec2 import Wav2Vec2Config, Wav2Vec2Model
    from rpc_fairseq.criterion import RpcCriterion

    cfg = Wav2Vec2Config(
        encoder_layers=1,
        encoder_embed_dim=32,
        encoder_ffn_embed_dim=64,
        encoder_attention_heads=2,
        conv_feature_layers="[(16, 10, 5), (16, 8, 4)]",
        final_dim=16,
        latent_vars=8,
        latent_groups=2,
        num_negatives=5,
        mask_prob=0.5,
        mask_length=2,
    )
    torch.manual_seed(0)
    model = Wav2Vec2Model(cfg).to(device)
    sample = {"net_input": {"source": torch.randn(4, 3200, device=device)}, "id": torch.arange(4, device=device)}

    def reads(criterion):
        def step():
            import numpy as np

            torch.manual_seed(1)  # the same mask, distractors and quantizer draws for both criteria
            np.random.seed(1)
            loss, _, _ = criterion(model, sample)
            loss.backward()

        step()
        with count_host_syncs(device) as counted:
            step()
        return counted.n

    assert reads(RpcCriterion(None, objective="rpc")) <= reads(Wav2vecCriterion(None, infonce=True))


@pytest.mark.parametrize("objective", sorted(rp.OBJECTIVES))
def test_rpc_open_clip(device, objective):
    pytest.importorskip("open_clip")
    rpc_open_clip = pytest.importorskip("rpc_open_clip")
    image, text, _ = views(N, D, device)
    loss_fn = rpc_open_clip.ObjectiveClipLoss(objective)
    scale = torch.tensor(10.0, device=device)

    def loss(a, b, s):
        return loss_fn(nn.functional.normalize(a, dim=1), nn.functional.normalize(b, dim=1), s)

    assert_no_sync(device, loss, image, text, scale)


class _Head(nn.Module):
    """Two views through a timm ResNet-18 (rpc_timm) and a linear head: the loss sees a model's outputs."""

    def __init__(self):
        super().__init__()
        rpc_timm = pytest.importorskip("rpc_timm")
        self.backbone = rpc_timm.create_backbone("resnet18", small_input=True)
        self.head = nn.Linear(512, D)

    def forward(self, x):
        return self.head(self.backbone(x))


def test_a_training_step_with_rpc_timm_and_rpc_loss(device):
    """Backbone forward, RPCLoss, backward through the model and an SGD step: no host read anywhere."""
    pytest.importorskip("timm")
    torch.manual_seed(0)
    model = _Head().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x0, x1 = torch.randn(32, 3, 32, 32, device=device), torch.randn(32, 3, 32, 32, device=device)
    loss_fn = rp.RPCLoss()

    def step():
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            loss = loss_fn(model(x0), model(x1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    with no_host_sync(device):
        step()
