"""Part b: a training step of model + loss with no host synchronisation, under torch's sync debug mode.

For each loss, one step (two views through a model, the loss, backward, an SGD-with-momentum
update) runs once to warm up, then twice inside ``torch.cuda.set_sync_debug_mode("error")``, which
turns any blocking device-to-host wait (``.item()``, ``bool(tensor)``, a copy to the CPU, a
``nonzero``) into a RuntimeError naming it. Covered: the core losses (``rpc_plugins.RPCLoss`` on
its fused and dense paths, the authors' preset, bf16 autocast, extra negatives,
``ContrastiveLoss`` for every objective, the MoCo queue layout, the objectives on a column-0 score
matrix as the fairseq/wav2vec adapters use them), each adapter's loss that imports here
(rpc_lightly, rpc_timm's backbone, rpc_transformers; rpc_solo and rpc_fairseq need solo-learn /
fairseq, which the GPU machine lacks: recorded as skipped with the import error), and lightly's
own NTXentLoss / DCLLoss / memory bank as controls (what the host library itself does).

On the CPU (``--dry-run``) the same steps run without the sync check (it exists for CUDA only):
the rows then say ``sync_check: "not available on cpu"``.

    python benchmarks/device/nosync.py --out b.json --dry-run
"""

import importlib

import common
import torch
from torch import nn

import rpc_plugins as rp
from rpc_plugins.pairing import split_column0_logits
from results import PartFile

D = 128


def mlp(d_in):
    return nn.Sequential(nn.Linear(d_in, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, D))


def two_view(loss_fn, batch, d_in=64, model=None, image=False, autocast=False):
    """A case: the model maps x0, x1 to two views' embeddings, the loss takes (out0, out1)."""

    def build(device):
        net = (model() if model else mlp(d_in)).to(device)
        shape = (batch, 3, 16, 16) if image else (batch, d_in)
        g = torch.Generator(device=device).manual_seed(0)
        x0, x1 = torch.randn(shape, generator=g, device=device), torch.randn(shape, generator=g, device=device)
        fn = loss_fn().to(device)

        def loss():
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=autocast):
                return fn(net(x0), net(x1))

        return net, loss

    return build


def queue(objective, batch, bank):
    def build(device):
        net = mlp(64).to(device)
        x0, x1 = torch.randn(batch, 64, device=device), torch.randn(batch, 64, device=device)
        q = torch.nn.functional.normalize(torch.randn(bank, D, device=device), dim=1)
        fn = rp.ContrastiveLoss(objective)
        return net, lambda: fn.queue_loss(net(x0), net(x1), q)

    return build


def column0(objective, anchors, k):
    """fairseq / wav2vec layout: logits (A, 1 + K), positive in column 0, -inf marks a dropped distractor."""

    def build(device):
        net = mlp(64).to(device)
        x = torch.randn(anchors, 64, device=device)
        targets = torch.randn(anchors, k + 1, D, device=device)
        drop = torch.zeros(anchors, k, dtype=torch.bool, device=device)
        drop[::7, 0] = True  # some distractors equal the target: -inf, as fairseq marks them

        def loss():
            logits = torch.einsum("ad,akd->ak", net(x), targets) / 10.0
            logits = torch.cat([logits[:, :1], logits[:, 1:].masked_fill(drop, float("-inf"))], dim=1)
            return rp.get_objective(objective)(*split_column0_logits(logits))

        return net, loss

    return build


def transformers_case(batch, use_adapter_loss):
    """rpc_transformers on a tiny Hugging Face Wav2Vec2ForPreTraining (random weights, no download):
    the adapter's whole loss (``Wav2Vec2PretrainingLoss``), or only its scores fed to the core ``rpc_loss``."""

    def build(device):
        import transformers
        from transformers.models.wav2vec2 import modeling_wav2vec2 as mw

        adapter = importlib.import_module("rpc_transformers")
        scores_fn = adapter.contrastive_scores
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
        net = transformers.Wav2Vec2ForPreTraining(config).to(device)
        audio = torch.randn(batch, 1600, device=device)
        frames = int(net._get_feat_extract_output_lengths(1600))
        mask = mw._compute_mask_indices((batch, frames), mask_prob=0.5, mask_length=2)
        negatives = mw._sample_negative_indices((batch, frames), config.num_negatives, mask_time_indices=mask)
        mask = torch.tensor(mask, dtype=torch.bool, device=device)
        negatives = torch.tensor(negatives, dtype=torch.long, device=device)

        if use_adapter_loss:
            loss_fn = adapter.Wav2Vec2PretrainingLoss(config, objective="rpc")

            def loss():
                return loss_fn(net(audio, mask_time_indices=mask), mask, negatives).loss

            return net, loss

        def loss():
            out = net(audio, mask_time_indices=mask)
            s = scores_fn(out.projected_states, out.projected_quantized_states, mask, negatives, temperature=0.1)
            return rp.rpc_loss(s.pos, s.neg, s.valid)

        return net, loss

    return build


def lightly_loss(name, **kwargs):
    def make():
        from lightly import loss

        return getattr(loss, name)(**kwargs)

    return make


def adapter(module, name, **kwargs):
    def make():
        return getattr(importlib.import_module(module), name)(**kwargs)

    return make


def resnet18():
    import rpc_timm

    return nn.Sequential(rpc_timm.create_backbone("resnet18", in_chans=3, small_input=True), nn.Linear(512, D))


def simclr_model():
    import rpc_lightly
    import rpc_timm

    return rpc_lightly.SimCLRModel(rpc_timm.create_backbone("resnet18", in_chans=3, small_input=True))


def cases(batch, bank):
    """(group, name, modules it needs, builder)."""
    out = [
        ("core", "RPCLoss() (default: method auto -> fused)", [], two_view(rp.RPCLoss, batch)),
        ("core", "RPCLoss(method='gram')", [], two_view(lambda: rp.RPCLoss(method="gram"), batch)),
        ("core", "RPCLoss(method='dense')", [], two_view(lambda: rp.RPCLoss(method="dense"), batch)),
        ("core", "RPCLoss.from_paper('cifar10')", [], two_view(lambda: rp.RPCLoss.from_paper("cifar10"), batch)),
        ("core", "RPCLoss(check_finite='async')", [], two_view(lambda: rp.RPCLoss(check_finite="async"), batch)),
        ("core", "RPCLoss(), model under bf16 autocast", [], two_view(rp.RPCLoss, batch, autocast=True)),
    ]
    out += [
        ("core", f"ContrastiveLoss('{o}')", [], two_view(lambda o=o: rp.ContrastiveLoss(o), batch))
        for o in rp.OBJECTIVES
    ]
    out += [
        ("core", f"ContrastiveLoss('{o}').queue_loss, {bank} queued negatives", [], queue(o, batch, bank))
        for o in ("rpc", "infonce")
    ]
    out += [
        ("core", f"{o}_loss on column-0 logits (fairseq / wav2vec layout)", [], column0(o, batch, 10))
        for o in ("rpc", "infonce")
    ]
    out += [
        ("rpc_lightly", "rpc_lightly.RPCLoss()", ["lightly"], two_view(adapter("rpc_lightly", "RPCLoss"), batch)),
        (
            "rpc_lightly",
            "rpc_lightly.ContrastiveLoss('mio')",
            ["lightly"],
            two_view(adapter("rpc_lightly", "ContrastiveLoss", objective="mio"), batch),
        ),
        (
            "rpc_lightly",
            f"rpc_lightly.RPCLoss(memory_bank_size=({bank}, {D}))",
            ["lightly"],
            two_view(adapter("rpc_lightly", "RPCLoss", memory_bank_size=(bank, D)), batch),
        ),
        (
            "rpc_lightly",
            "rpc_lightly.SimCLRModel(rpc_timm resnet18) + rpc_lightly.RPCLoss()",
            ["lightly", "timm"],
            two_view(adapter("rpc_lightly", "RPCLoss"), max(batch // 8, 4), model=simclr_model, image=True),
        ),
        (
            "rpc_timm",
            "rpc_timm.create_backbone('resnet18') + RPCLoss()",
            ["timm"],
            two_view(rp.RPCLoss, max(batch // 8, 4), model=resnet18, image=True),
        ),
        (
            "rpc_transformers",
            "Wav2Vec2ForPreTraining + rpc_transformers.Wav2Vec2PretrainingLoss('rpc')",
            ["transformers", "rpc_transformers"],
            transformers_case(2, use_adapter_loss=True),
        ),
        (
            "rpc_transformers",
            "Wav2Vec2ForPreTraining + rpc_transformers.contrastive_scores + rpc_loss",
            ["transformers", "rpc_transformers"],
            transformers_case(2, use_adapter_loss=False),
        ),
        ("rpc_solo", "rpc_solo (solo-learn method)", ["solo", "rpc_solo"], None),
        ("rpc_fairseq", "rpc_fairseq criterion", ["fairseq", "rpc_fairseq.criterion"], None),
        ("lightly (control)", "lightly.loss.NTXentLoss()", ["lightly"], two_view(lightly_loss("NTXentLoss"), batch)),
        ("lightly (control)", "lightly.loss.DCLLoss()", ["lightly"], two_view(lightly_loss("DCLLoss"), batch)),
        (
            "lightly (control)",
            f"lightly.loss.NTXentLoss(memory_bank_size=({bank}, {D}))",
            ["lightly"],
            two_view(lightly_loss("NTXentLoss", memory_bank_size=(bank, D)), batch),
        ),
    ]
    return out


def run_case(build, device, check):
    """Warm-up step, then two checked steps; returns (status, detail)."""
    torch.manual_seed(0)
    net, loss = build(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        value = loss()
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        return value.detach()

    step()
    common.sync(device)
    values = []
    if check:
        torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            values.append(step())
    except RuntimeError as exc:
        if check and "synchroniz" in str(exc).lower():
            return "host sync", str(exc).strip().splitlines()[0][:300]
        raise
    finally:
        if check:
            torch.cuda.set_sync_debug_mode("default")
    common.sync(device)
    finite = all(bool(torch.isfinite(v)) for v in values)
    return (
        "no host sync" if check else "ran (no sync check on cpu)"
    ) if finite else "non-finite loss", f"losses {[round(float(v), 5) for v in values]}"


def main():
    args = common.parse(__doc__)
    common.require_device(args.device)
    check = args.device == "cuda"
    batch, bank = (16, 32) if args.dry_run else (256, 4096)
    part = PartFile(
        args.out,
        "b",
        "No host synchronisation in a training step",
        args.dry_run,
        device=args.device,
        batch=batch,
        bank=bank,
        sync_check="torch.cuda.set_sync_debug_mode('error')" if check else "not available on cpu",
    )
    for group, name, needs, build in cases(batch, bank):
        reason = next((r for r in map(common.import_reason, needs) if r), None)
        if reason or build is None:
            part.skip(f"{group}: {name}", reason or "no case")
            print(f"b: {name}: skipped ({reason})", flush=True)
            continue
        try:
            status, detail = run_case(build, args.device, check)
        except Exception as exc:  # a broken case is a result too: it says what failed
            status, detail = "error", f"{type(exc).__name__}: {str(exc).strip()[:300]}"
        part.add(dict(group=group, loss=name, status=status, detail=detail))
        print(f"b: {name}: {status} ({detail})", flush=True)
    rows = part.data["rows"]
    part.done(
        all_ok=all(
            r["status"] in ("no host sync", "ran (no sync check on cpu)")
            for r in rows
            if r["group"] != "lightly (control)"
        )
    )


if __name__ == "__main__":
    main()
