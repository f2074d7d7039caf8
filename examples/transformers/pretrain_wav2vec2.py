"""Pretrain a tiny Hugging Face wav2vec 2.0 (``Wav2Vec2ForPreTraining``) with RPC or any rpc_plugins objective on
the project's flite corpus, on the CPU, then report frozen phone / speaker probe accuracies.

Two ways to plug the loss in, both shown here:

* ``--mode loop``: the loss line of HF's wav2vec 2.0 pretraining loop (``run_wav2vec2_pretraining_no_trainer.py``)
  becomes ``loss_fn(outputs, mask_time_indices, sampled_negative_indices)``;
* ``--mode trainer``: ``transformers.Trainer`` via ``rpc_transformers.trainer.RPCPretrainingTrainer``.

Every ``--log-every`` steps it prints E_pos, E_neg (mean critic score of positives / distractors), the InfoNCE MI
bound and, for RPC, the authors' MI estimate, as fairseq's ``rpc`` criterion logs them.

    OMP_NUM_THREADS=1 .venvs/transformers/bin/python examples/transformers/pretrain_wav2vec2.py --objective rpc
    OMP_NUM_THREADS=1 .venvs/transformers/bin/python examples/transformers/pretrain_wav2vec2.py --mode trainer

>>> tiny_config().conv_stride  # 5*4*2*2*2 = 160 samples: 10 ms frames at 16 kHz, the flite labels' grid
(5, 4, 2, 2, 2)
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [os.path.join(ROOT, "adapters"), ROOT]

SAMPLE_RATE = 16000


def tiny_config(**overrides):
    """A CPU-sized wav2vec 2.0: 5 conv layers (10 ms frames), 2 transformer layers of width 64, 2 x 32 codes."""
    from transformers import Wav2Vec2Config

    kw = dict(
        conv_dim=(32, 32, 32, 32, 32),
        conv_kernel=(10, 8, 4, 4, 4),
        conv_stride=(5, 4, 2, 2, 2),
        conv_bias=True,
        feat_extract_norm="layer",
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        codevector_dim=32,
        proj_codevector_dim=32,
        num_codevector_groups=2,
        num_codevectors_per_group=32,
        num_negatives=20,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        feat_quantizer_dropout=0.0,
        layerdrop=0.0,
    )
    kw.update(overrides)
    return Wav2Vec2Config(**kw)


def load_corpus(data, utterances=240):
    """(label records, {path: float32 waveform}); the flite corpus is generated first when missing."""
    import soundfile as sf

    from rpc_datasets.speech import generate

    labels = os.path.join(data, "labels.jsonl")
    if not os.path.exists(labels):
        print(f"generating {utterances} flite utterances in {data}", flush=True)
        generate(data, utterances=utterances, seed=0)
    records = [json.loads(line) for line in open(labels)]
    waves = {r["path"]: sf.read(os.path.join(data, r["path"]), dtype="float32")[0] for r in records}
    return records, waves


def batches(train_waves, batch_size, seed):
    """An endless stream of random mini-batches (lists of waveforms)."""
    rng = np.random.default_rng(seed)
    while True:
        yield [train_waves[i] for i in rng.choice(len(train_waves), size=batch_size, replace=False)]


def gumbel_temperature(step, steps, start=2.0, end=0.5):
    """Anneal the quantizer's Gumbel-softmax temperature geometrically from ``start`` to ``end`` over the run."""
    return start * (end / start) ** (step / max(steps - 1, 1))


def pretrain_loop(model, train_waves, loss_fn, collator, steps, lr, batch_size=8, seed=0, log_every=50, log=print):
    """HF's no-trainer pretraining loop with the loss line swapped; returns the per-frame training losses."""
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(steps // 10, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    stream, losses, window = batches(train_waves, batch_size, seed), [], []
    for step in range(steps):
        batch = collator(next(stream))
        model.set_gumbel_temperature(gumbel_temperature(step, steps))
        outputs = model(batch["input_values"], mask_time_indices=batch["mask_time_indices"])
        # the loss line: HF's `outputs.loss` becomes any rpc_plugins objective on the same forward
        result = loss_fn(outputs, batch["mask_time_indices"], batch["sampled_negative_indices"])
        loss = result.loss / result.num_masked  # per masked frame, as HF's example scales its gradients
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        window.append(result.logs)
        if log_every and ((step + 1) % log_every == 0 or step + 1 == steps):
            log(f"step {step + 1}/{steps} " + format_logs(window, losses[-len(window) :]))
            window = []
    return losses


def format_logs(window, losses):
    mean = {key: float(np.mean([w[key] for w in window])) for key in window[0]}
    text = (
        f"loss/frame {np.mean(losses):.4f} E_pos {mean['E_pos']:.4f} E_neg {mean['E_neg']:.4f} "
        f"mi_nce {mean['mi_nce']:.4f}"
    )
    if "mi_rpc" in mean:
        text += f" mi_rpc {mean['mi_rpc']:.4f}"
    return text + f" acc {mean['accuracy']:.3f} perplexity {mean['codevector_perplexity']:.1f}"


def pretrain_trainer(
    model, train_waves, loss_fn, collator, steps, lr, batch_size=8, seed=0, log_every=50, out_dir=None
):
    """The same pretraining through ``transformers.Trainer`` (``RPCPretrainingTrainer``); returns its log history."""
    import tempfile

    from transformers import TrainerCallback, TrainingArguments

    from rpc_transformers.trainer import RPCPretrainingTrainer

    class Gumbel(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            model.set_gumbel_temperature(gumbel_temperature(state.global_step, steps))

    args = TrainingArguments(
        output_dir=out_dir or tempfile.mkdtemp(),
        max_steps=steps,
        learning_rate=lr,
        per_device_train_batch_size=batch_size,
        warmup_steps=max(steps // 10, 1),
        weight_decay=0.01,
        max_grad_norm=1.0,
        logging_steps=log_every,
        save_strategy="no",
        report_to=[],
        seed=seed,
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = RPCPretrainingTrainer(
        model=model,
        args=args,
        train_dataset=train_waves,
        data_collator=collator,
        rpc_loss=loss_fn,
        callbacks=[Gumbel()],
    )
    trainer.train()
    return trainer.state.log_history


def frame_features(model, waves, records):
    """Frozen transformer outputs (frames, hidden) of each record's whole utterance (normalised, no masking)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for r in records:
            w = waves[r["path"]]
            x = torch.from_numpy((w - w.mean()) / np.sqrt(w.var() + 1e-7))[None]
            out.append(model.wav2vec2(x).last_hidden_state[0].numpy())
    return out


def probe(model, data, waves, records):
    """Phone and speaker probe accuracies on held-out utterances (``benchmarks/speech``'s probes)."""
    from benchmarks.speech.run import evaluate

    return evaluate(None, data, records, feats=frame_features(model, waves, records))


def build(args_seed, config_overrides=None):
    import torch
    from transformers import Wav2Vec2ForPreTraining

    torch.manual_seed(args_seed)
    return Wav2Vec2ForPreTraining(tiny_config(**(config_overrides or {})))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "speech_bench"))
    parser.add_argument("--utterances", type=int, default=240)
    parser.add_argument("--mode", choices=("loop", "trainer"), default="loop")
    parser.add_argument("--objective", default="rpc")
    parser.add_argument(
        "--alpha",
        type=float,
        default=1.0,
        help="RPC alpha; with alpha < 1 and a cosine critic RPC first raises every score together",
    )
    parser.add_argument("--beta", type=float, default=None, help="RPC beta (default: rpc_plugins.OBJECTIVE_KNOBS)")
    parser.add_argument("--gamma", type=float, default=None, help="RPC gamma (default: rpc_plugins.OBJECTIVE_KNOBS)")
    parser.add_argument("--critic-scale", type=float, default=None, help="default: 1 (HF's logits), rpc: f = cosine")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=float, default=1.5, help="seconds of audio per training example")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-every", type=int, default=50)
    args = parser.parse_args()

    import torch

    from rpc_transformers import PretrainingCollator, Wav2Vec2PretrainingLoss

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    start = time.time()
    records, waves = load_corpus(os.path.abspath(args.data), args.utterances)
    train = [waves[r["path"]] for r in records if r["split"] == "train"]
    model = build(args.seed)
    loss_fn = Wav2Vec2PretrainingLoss(
        model.config,
        objective=args.objective,
        alpha=args.alpha,
        beta=args.beta,
        gamma=args.gamma,
        critic_scale=args.critic_scale,
    )
    collator = PretrainingCollator(model.config, max_samples=int(args.crop * SAMPLE_RATE))
    print(f"{args.mode}: {loss_fn} on {len(train)} utterances, {args.steps} steps", flush=True)
    if args.mode == "loop":
        pretrain_loop(model, train, loss_fn, collator, args.steps, args.lr, args.batch_size, args.seed, args.log_every)
    else:
        # the Trainer prints its logs (loss per masked frame, E_pos, E_neg, mi_nce, mi_rpc, ...) every --log-every
        pretrain_trainer(
            model, train, loss_fn, collator, args.steps, args.lr, args.batch_size, args.seed, args.log_every
        )
    result = probe(model, os.path.abspath(args.data), waves, records)
    print(
        f"probe accuracy on held-out utterances: phone {result['phone_acc']:.3f}, speaker {result['speaker_acc']:.3f}"
        f" ({result['n_phones']} phones, {result['valid_frames']} frames); {time.time() - start:.0f} s",
        flush=True,
    )
    return 0 if all(math.isfinite(result[k]) for k in ("phone_acc", "speaker_acc")) else 1


if __name__ == "__main__":
    sys.exit(main())
