"""Speech evidence on today's stack: Hugging Face wav2vec 2.0 pretrained with InfoNCE (HF's own loss) vs RPC.

The claim under test is ``run.py``'s (RPC ahead of CPC on phone and speaker linear probes), which tests it
with wav2vec v1 on fairseq 0.12.2; these rows use ``transformers``' ``Wav2Vec2ForPreTraining`` (a tiny config,
``examples/transformers/pretrain_wav2vec2.py``) with ``rpc_transformers``:

1. the same flite corpus (``rpc_datasets.speech``), probes (``run.evaluate``: logistic regression on frozen
   features, phone and speaker per 10 ms frame) and controls (raw log spectrum, untrained model, majority class);
2. ``infonce``: the adapter's InfoNCE, equal to HF's own ``loss`` (tested in ``integration_tests/transformers``);
   ``rpc``: RPC at the adapter's defaults (alpha=0.3, beta=0.01, gamma=0.1, f = cosine);
3. equal-budget tuning: k trials per criterion over its own knobs (trial 1 = its default), seed 1, selected on the
   validation phone accuracy of a carve of the training utterances (``tune.carve_validation``), then re-run with
   every seed; the held-out split is never seen by the selection.

    OMP_NUM_THREADS=1 .venvs/transformers/bin/python benchmarks/speech/run_hf.py --utterances 240 --steps 400 \\
        --seeds 3 --tune-trials 4

>>> sorted(SPACES) == ["infonce", "rpc"] and DEFAULTS["infonce"]["temperature"] == 0.1
True
"""

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [os.path.join(ROOT, "adapters"), ROOT, os.path.join(ROOT, "examples", "transformers")]

from benchmarks.harness import machine, tuning  # noqa: E402
from benchmarks.harness.rows import write_json  # noqa: E402
from benchmarks.speech import run as fairseq_rows  # noqa: E402  (corpus, probes and baselines shared)
from benchmarks.speech import tune  # noqa: E402
from benchmarks.speech.report import probe_table, tuning_table  # noqa: E402
import pretrain_wav2vec2 as example  # noqa: E402  (examples/transformers: the tiny model, loop and features)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hf")
LRS = [5e-4, 1e-3, 2e-3, 5e-3]
# critic_scale multiplies HF's logit cos / 0.1: 0.1 gives f = cosine (RPC's default), 0.5 gives f = 5 cosine
SPACES = {
    "rpc": {
        "alpha": [0.3, 0.5, 1.0, 2.0],
        "beta": [0.003, 0.01, 0.03],
        "gamma": [0.03, 0.1, 0.3],
        "critic_scale": [0.1, 0.2, 0.5],
        "lr": LRS,
    },
    "infonce": {"temperature": [0.05, 0.1, 0.2, 0.5], "lr": LRS},
}
DEFAULTS = {
    "rpc": {"alpha": 0.3, "beta": 0.01, "gamma": 0.1, "critic_scale": 0.1, "lr": 1e-3},
    "infonce": {"temperature": 0.1, "lr": 1e-3},
}
LABELS = {
    "rpc": "rpc_transformers rpc (alpha=0.3, beta=0.01, gamma=0.1, f = cosine)",
    "infonce": "rpc_transformers infonce = HF Wav2Vec2ForPreTraining loss (temperature 0.1)",
    "untrained": "untrained (random init, control)",
    "raw-features": "raw-features: log spectrum of each 10 ms frame (no encoder, control)",
}


def train_and_probe(criterion, config, seed, train_waves, waves, records, data, args, cache):
    """Pretrain the tiny model with ``criterion`` at ``config`` (lr + loss knobs) and probe it; cached by
    settings so a tuned selection equal to the default reuses the default's runs."""
    from rpc_transformers import PretrainingCollator, Wav2Vec2PretrainingLoss

    key = json.dumps([criterion, config, seed, len(train_waves), args.steps], sort_keys=True)
    if key in cache:
        return cache[key]
    model = example.build(seed)
    knobs = {k: v for k, v in config.items() if k != "lr"}
    loss_fn = Wav2Vec2PretrainingLoss(model.config, objective=criterion, **knobs)
    collator = PretrainingCollator(model.config, max_samples=int(args.crop * 16000))
    start = time.time()
    losses = example.pretrain_loop(
        model, train_waves, loss_fn, collator, args.steps, config["lr"], args.batch_size, seed, log_every=0
    )
    result = dict(
        fairseq_rows.evaluate(None, data, records, feats=example.frame_features(model, waves, records)),
        final_loss=float(np.mean(losses[-20:])),
        train_seconds=time.time() - start,
    )
    cache[key] = result
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "speech_bench"))
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--utterances", type=int, default=240)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=float, default=1.5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tune-trials", type=int, default=4)
    parser.add_argument("--tune-seed", type=int, default=0)
    args = parser.parse_args()
    args.data, args.out = os.path.abspath(args.data), os.path.abspath(args.out)

    import warnings

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message=".*lbfgs failed to converge.*")

    start = time.time()

    def log(line):
        print(f"[{time.time() - start:5.0f}s] {line}", flush=True)

    records, waves = example.load_corpus(args.data, args.utterances)
    train_waves = [waves[r["path"]] for r in records if r["split"] == "train"]
    cache, rows, tuned = {}, [], {}
    log("probing the raw-features baseline (no encoder)")
    rows.append(
        dict(
            method="raw-features",
            seed=0,
            **fairseq_rows.evaluate(None, args.data, records, feats=fairseq_rows.raw_features(args.data, records)),
        )
    )

    # equal-budget tuning on a carve of the training utterances
    _, tune_records = tune.carve_validation(args.data, records)
    tune_train = [waves[r["path"]] for r in tune_records if r["split"] == "train"]
    for criterion in ("rpc", "infonce") if args.tune_trials else ():
        scored = []
        for i, config in enumerate(
            tuning.trials(
                SPACES[criterion], DEFAULTS[criterion], args.tune_trials, seed=args.tune_seed, name=f"hf-{criterion}"
            )
        ):
            result = train_and_probe(criterion, config, 1, tune_train, waves, tune_records, args.data, args, cache)
            scored.append({"config": config, "score": result["phone_acc"], "speaker_acc": result["speaker_acc"]})
            log(
                f"tuning {criterion} trial {i + 1}/{args.tune_trials} {config}: validation phone "
                f"{result['phone_acc']:.3f}"
            )
        tuned[criterion] = dict(tuning.record(scored, args.tune_trials), metric=tune.METRIC, scores=scored)

    methods = {"rpc": ("rpc", DEFAULTS["rpc"]), "infonce": ("infonce", DEFAULTS["infonce"])}
    methods.update({f"{c}_tuned": (c, rec["selected"]) for c, rec in tuned.items()})
    for seed in range(1, args.seeds + 1):
        for method, (criterion, config) in methods.items():
            result = train_and_probe(criterion, config, seed, train_waves, waves, records, args.data, args, cache)
            rows.append(dict(method=method, seed=seed, config=config, **result))
            log(f"{method} seed {seed}: phone {result['phone_acc']:.3f} speaker {result['speaker_acc']:.3f}")
        model = example.build(seed)
        rows.append(
            dict(
                method="untrained",
                seed=seed,
                **fairseq_rows.evaluate(None, args.data, records, feats=example.frame_features(model, waves, records)),
            )
        )
        save(rows, tuned, args, time.time() - start, records)
    print(open(os.path.join(args.out, "results.md")).read())


def save(rows, tuned, args, elapsed, records):
    host = machine.describe(threads=1)
    write_json(
        os.path.join(args.out, "results.json"),
        {"rows": rows, "tuning": tuned, "args": vars(args), "seconds": elapsed, "machine": host},
    )
    majority = fairseq_rows.majority_baseline(records)
    first = rows[0]
    lines = [
        "# Speech on transformers: frozen linear probes after brief HF wav2vec 2.0 pretraining",
        "",
        "Command: `OMP_NUM_THREADS=1 .venvs/transformers/bin/python benchmarks/speech/run_hf.py "
        f"--utterances {args.utterances} --steps {args.steps} --seeds {args.seeds} --tune-trials {args.tune_trials}"
        + ("" if args.out == OUT else f" --out {os.path.relpath(args.out, ROOT)}")
        + "`",
        "",
        f"Machine: {host}; wall time "
        f"{elapsed / 60:.1f} min. Model: `examples/transformers/pretrain_wav2vec2.py`'s tiny "
        "`Wav2Vec2ForPreTraining` (5 conv layers, 10 ms frames, 2 transformer layers of width 64, 2 x 32 codes, "
        f"20 distractors), {args.steps} AdamW steps of {args.batch_size} x {args.crop} s crops, mask 0.65 x 10.",
        "",
        f"Corpus: {args.utterances} flite utterances (as `run.py`); {first['train_frames']} / "
        f"{first['valid_frames']} frames of 10 ms, {first['n_phones']} phone classes. Probes as `run.py`: "
        "logistic regression on frozen transformer outputs, accuracy on held-out utterances (mean ± std over "
        "seeds where seeds > 1):",
        "",
        probe_table(
            rows, ("rpc", "infonce", "rpc_tuned", "infonce_tuned", "untrained", "raw-features"), LABELS, tuned, majority
        ),
        "",
        f"Equal-budget tuning: {args.tune_trials} trials per criterion (trial 1 = its default), seed 1, "
        f"selected on the {tune.METRIC}; the selection was then re-run with every seed above.",
        "",
        tuning_table(tuned, trials_column=False),
    ]
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
