"""Speech evidence: RPC vs InfoNCE (CPC) vs binary (wav2vec v1) pretraining, then frozen linear probes.

Tsai et al., "Self-supervised Representation Learning with Relative Predictive Coding", ICLR 2021
(arXiv 2103.11275), report RPC ahead of CPC on LibriSpeech phone and speaker linear probes. This script
tests that claim at CPU scale on a generated flite corpus (``rpc_fairseq.speech_data``):

1. generate the corpus (3 flite voices, random rate/pitch, noise) unless it exists;
2. pretrain the same tiny wav2vec (v1, CPC-style) model from ``examples/fairseq/wav2vec_cpc_tiny_rpc.yaml``
   with fairseq 0.12.2's real ``fairseq-hydra-train`` and each criterion:
   ``rpc`` (this project) with alpha=0.3 and alpha=1.0, ``wav2vec`` with ``infonce=true`` (CPC / InfoNCE), ``wav2vec`` with
   ``infonce=false`` (the binary cross-entropy of wav2vec v1); plus an untrained model as a control;
3. freeze, take the context network's output c_t (10 ms frames), and fit logistic-regression probes on
   the train split: phone per frame (labels from ``flite -psdur``) and speaker per frame; report accuracy
   on the held-out split.

    OMP_NUM_THREADS=1 .venvs/fairseq-torch2/bin/python benchmarks/speech/run.py --utterances 240 --updates 400 --seeds 3
    .venvs/main/bin/python benchmarks/speech/plot.py                 # speech.png from results.json

>>> # python benchmarks/speech/run.py --updates 40 --seeds 1 --utterances 60   (a quick smoke run)
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [os.path.join(ROOT, "adapters"), ROOT]

from benchmarks.harness import machine, plots  # noqa: E402
from benchmarks.harness.probes import sklearn_linear  # noqa: E402
from benchmarks.harness.rows import write_json  # noqa: E402
from benchmarks.speech import tune  # noqa: E402
from benchmarks.speech.report import probe_table, tuning_table  # noqa: E402

USER_DIR = os.path.join(ROOT, "adapters", "rpc_fairseq")
CONFIGS = os.path.join(ROOT, "examples", "fairseq")
BIN = os.path.dirname(sys.executable)
LOG_INTERVAL = 10  # updates between the training losses fairseq logs (the curves' x step)
FRAME = 160  # the tiny config's feature-encoder stride: 5*4*2*2*2 samples = 10 ms at 16 kHz
RPC_KEYS = ("criterion.objective", "criterion.alpha", "criterion.beta", "criterion.gamma", "criterion.critic_scale")
METHODS = {
    "rpc": ["criterion.alpha=0.3"],  # explicit, whatever the yaml says
    "rpc_a1": ["criterion.alpha=1.0"],
    "infonce": ["criterion._name=wav2vec", "+criterion.infonce=true"] + [f"~{k}" for k in RPC_KEYS],
    "binary": ["criterion._name=wav2vec", "+criterion.infonce=false", "model.infonce=false"]
    + [f"~{k}" for k in RPC_KEYS],
}
LABELS = {
    "rpc": "rpc alpha=0.3 (beta=0.01 gamma=0.1, critic_scale=0.05)",
    "rpc_a1": "rpc alpha=1.0 (beta=0.01 gamma=0.1, critic_scale=0.05)",
    "infonce": "wav2vec infonce=true (CPC / InfoNCE)",
    "binary": "wav2vec infonce=false (binary)",
    "untrained": "untrained (random init, control)",
    "raw-features": "raw-features: log spectrum of each 10 ms frame (no encoder, control)",
}
# the criteria equal-budget tuning searches, with the overrides each trial starts from (rpc: the yaml's own)
TUNED_BASE = {"rpc": [], "infonce": METHODS["infonce"], "binary": METHODS["binary"]}


def pretrain(method_overrides, seed, data, save_dir, updates, log, log_interval=LOG_INTERVAL):
    """Run fairseq-hydra-train with the criterion's overrides (reusing a finished run in ``save_dir``);
    return the training losses fairseq logged every ``log_interval`` updates."""
    if os.path.exists(log):
        text = open(log).read()
        # a log of another format (no JSON records, though it ran long enough to log one) is run again
        if "done training" in text and (train_losses(text) or updates < log_interval):
            return train_losses(text)
    cmd = [
        os.path.join(BIN, "fairseq-hydra-train"),
        "--config-dir",
        CONFIGS,
        "--config-name",
        "wav2vec_cpc_tiny_rpc",
        f"task.data={data}",
        f"common.user_dir={USER_DIR}",
        f"checkpoint.save_dir={save_dir}",
        f"optimization.max_update={updates}",
        f"checkpoint.save_interval_updates={updates}",
        "common.log_format=json",
        f"common.log_interval={log_interval}",
        f"common.seed={seed}",
        *method_overrides,
    ]
    env = dict(os.environ, HYDRA_FULL_ERROR="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    os.makedirs(save_dir, exist_ok=True)
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=save_dir)
    text = open(log).read()
    if proc.returncode != 0:
        raise RuntimeError(f"pretraining with {method_overrides} failed (see {log}):\n{text[-2000:]}")
    return train_losses(text)


def train_losses(log_text):
    """The ``loss`` of every ``train_inner`` record that fairseq's JSON progress bar (``common.log_format=json``)
    logged, under Hydra's log format (``fairseq-hydra-train``) or fairseq's own (``fairseq-train``).

    >>> train_losses('[t][train_inner][INFO] - {"epoch": 1, "loss": "6.62", "num_updates": "10"}\\n'
    ...              't | INFO | train_inner | {"loss": "6.5"}\\n[t][valid][INFO] - {"valid_loss": "7"}')
    [6.62, 6.5]
    """
    return [
        float(json.loads(line[line.index("{") :])["loss"])
        for line in log_text.splitlines()
        if ("[train_inner][" in line or "| train_inner |" in line) and "{" in line
    ]


def load_model(save_dir, trained):
    """The wav2vec model from the run's checkpoint (weights only when ``trained``)."""
    import torch
    from fairseq import checkpoint_utils

    models, _cfg, _task = checkpoint_utils.load_model_ensemble_and_task([os.path.join(save_dir, "checkpoint_last.pt")])
    model = models[0]
    if not trained:
        torch.manual_seed(0)
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return model.eval()


def frame_labels(record, n_frames, phone_ids, speaker_ids):
    """Phone and speaker id of each 10 ms frame (phone whose interval holds the frame centre)."""
    ends = np.array([end for _, end in record["phones"]])
    names = [name for name, _ in record["phones"]]
    centres = (np.arange(n_frames) * FRAME + FRAME / 2) / 16000.0
    idx = np.minimum(np.searchsorted(ends, centres), len(names) - 1)
    phones = np.array([phone_ids.setdefault(names[i], len(phone_ids)) for i in idx])
    return phones, np.full(n_frames, speaker_ids[record["speaker"]])


def n_frames(n_samples, layers=((10, 5), (8, 4), (4, 2), (4, 2), (4, 2))):
    """Output length of the tiny config's feature encoder (kernel, stride per conv layer, no padding)."""
    for kernel, stride in layers:
        n_samples = (n_samples - kernel) // stride + 1
    return n_samples


def majority_baseline(records):
    """Held-out accuracy of always predicting the most frequent training class (phone, speaker)."""
    phone_ids, speakers = {}, {s: i for i, s in enumerate(sorted({r["speaker"] for r in records}))}
    labels = {"train": ([], []), "valid": ([], [])}
    for r in records:
        phones, spk = frame_labels(r, n_frames(r["n_samples"]), phone_ids, speakers)
        labels[r["split"]][0].append(phones), labels[r["split"]][1].append(spk)
    out = {}
    for i, key in enumerate(("phone_acc", "speaker_acc")):
        train, valid = np.concatenate(labels["train"][i]), np.concatenate(labels["valid"][i])
        out[key] = float((valid == np.bincount(train).argmax()).mean())
    return out


def features(model, data, records):
    """Frozen context features c_t (frames, dim) per record."""
    import soundfile as sf
    import torch
    import torch.nn.functional as F

    out = []
    with torch.no_grad():
        for r in records:
            wav, _ = sf.read(os.path.join(data, r["path"]), dtype="float32")
            x = torch.from_numpy(wav)
            x = F.layer_norm(x, x.shape)[None]  # task.normalize=true
            z = model.feature_extractor(x)
            c = model.feature_aggregator(z)
            out.append(c[0].T.numpy())
    return out


def raw_features(data, records, window=400):
    """The raw-input baseline: log-magnitude spectrum (Hann window, 25 ms) of each 10 ms frame, aligned
    with the model's frames (frame i starts at sample 160 i, like the encoder's receptive field)."""
    import soundfile as sf

    out, hann = [], np.hanning(window).astype(np.float32)
    for r in records:
        wav, _ = sf.read(os.path.join(data, r["path"]), dtype="float32")
        wav = (wav - wav.mean()) / (wav.std() + 1e-5)  # task.normalize=true, as the model sees it
        count = n_frames(len(wav))
        frames = np.stack([wav[i * FRAME : i * FRAME + window] for i in range(count)])
        out.append(np.log(np.abs(np.fft.rfft(frames * hann, axis=1)) + 1e-3))
    return out


def evaluate(model, data, records, feats=None):
    """Phone and speaker probe accuracies on ``model``'s frozen c_t (or on precomputed ``feats``)."""
    phone_ids, speakers = {}, {s: i for i, s in enumerate(sorted({r["speaker"] for r in records}))}
    split = {"train": ([], [], []), "valid": ([], [], [])}
    for r, c in zip(records, feats if feats is not None else features(model, data, records)):
        phones, spk = frame_labels(r, len(c), phone_ids, speakers)
        xs, ps, ss = split[r["split"]]
        xs.append(c), ps.append(phones), ss.append(spk)
    (trx, trp, trs), (vax, vap, vas) = [[np.concatenate(a) for a in split[k]] for k in ("train", "valid")]
    return {
        "phone_acc": sklearn_linear(trx, trp, vax, vap),
        "speaker_acc": sklearn_linear(trx, trs, vax, vas),
        "n_phones": len(phone_ids),
        "train_frames": len(trx),
        "valid_frames": len(vax),
    }


def plot(curves, out_png, log_interval=LOG_INTERVAL):
    """The training losses (logged every ``log_interval`` updates); False where matplotlib is missing (the
    fairseq envs)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    fig, (ax,) = plots.figure(1, width=6, height=4)
    for name, losses in curves.items():
        ax.plot(np.arange(1, len(losses) + 1) * log_interval, losses, label=name)
    ax.set_xlabel("update"), ax.set_ylabel("training loss (own objective, base 2)"), ax.legend()
    plots.save(fig, out_png, dpi=120)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "speech_bench"))
    parser.add_argument("--runs", default=os.path.join(ROOT, "runs", "speech_bench"))
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--utterances", type=int, default=240)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--tune-trials",
        type=int,
        default=0,
        help="k: equal-budget tuning trials per criterion (rpc, infonce, binary) before the seeds; 0: none",
    )
    parser.add_argument("--tune-seed", type=int, default=0, help="seed of the trial draws")
    parser.add_argument(
        "--tuned-from",
        default=None,
        help="a results.json whose 'tuning' selections to re-run (no new trials): longer training "
        "at settings selected at a shorter one",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="only these rows (of rpc, rpc_a1, infonce, binary and the *_tuned ones); default all",
    )
    parser.add_argument(
        "--log-interval",
        type=int,
        default=LOG_INTERVAL,
        help="updates between the training losses fairseq logs (the pretraining curves)",
    )
    parser.add_argument("--render-only", action="store_true", help="rewrite results.md from results.json")
    args = parser.parse_args()
    args.data, args.runs, args.out = (
        os.path.abspath(p) for p in (args.data, args.runs, args.out)
    )  # fairseq runs in save_dir
    if args.tune_trials and args.tuned_from:
        parser.error("--tune-trials and --tuned-from exclude each other (search here, or reuse a search)")
    if args.render_only:
        saved = json.load(open(os.path.join(args.out, "results.json")))
        for key in ("utterances", "updates", "seeds", "tune_trials", "tuned_from", "methods", "runs"):
            setattr(args, key, saved["args"].get(key))
        args.log_interval = saved["args"].get("log_interval", LOG_INTERVAL)
        records = [json.loads(line) for line in open(os.path.join(saved["args"]["data"], "labels.jsonl"))]
        write_markdown(
            saved["rows"],
            args,
            saved["seconds"],
            False,
            os.path.join(args.out, "results.md"),
            majority_baseline(records),
            saved.get("tuning", {}),
            saved.get("machine") or legacy_machine(),
        )
        return
    import logging
    import warnings

    import torch

    torch.set_num_threads(1)
    logging.disable(logging.INFO)  # fairseq prints the whole model when it loads a checkpoint
    warnings.filterwarnings("ignore", message=".*lbfgs failed to converge.*")
    from rpc_fairseq.speech_data import generate

    start, host = time.time(), machine.describe(threads=1)
    labels = os.path.join(args.data, "labels.jsonl")
    if not os.path.exists(labels):
        print(f"[{time.time() - start:5.0f}s] generating {args.utterances} utterances in {args.data}", flush=True)
        generate(args.data, utterances=args.utterances, seed=0)
    records = [json.loads(line) for line in open(labels)]

    rows, curves, tuned = [], {}, {}
    print(f"[{time.time() - start:5.0f}s] probing the raw-features baseline (no encoder)", flush=True)
    rows.append(
        dict(
            method="raw-features", seed=0, **evaluate(None, args.data, records, feats=raw_features(args.data, records))
        )
    )
    print(f"[{time.time() - start:5.0f}s] {rows[-1]}", flush=True)
    methods = dict(METHODS)
    if args.tune_trials:
        tuned_methods, tuned = tune_criteria(args, records, start)
        methods.update(tuned_methods)
    elif args.tuned_from:
        tuned_methods, tuned = reuse_tuning(args.tuned_from)
        methods.update(tuned_methods)
    if args.methods:
        unknown = sorted(set(args.methods) - set(methods))
        if unknown:
            raise ValueError(f"--methods {unknown} unknown here; choose from {sorted(methods)}")
        methods = {m: methods[m] for m in args.methods}
    for seed in range(1, args.seeds + 1):
        for method, method_overrides in methods.items():
            save_dir = os.path.join(args.runs, f"{method}_s{seed}")
            print(
                f"[{time.time() - start:5.0f}s] pretraining {method} seed {seed} ({args.updates} updates)", flush=True
            )
            losses = pretrain(
                method_overrides,
                seed,
                args.data,
                save_dir,
                args.updates,
                os.path.join(save_dir, "train.log"),
                args.log_interval,
            )
            curves.setdefault(method, losses)
            result = evaluate(load_model(save_dir, trained=True), args.data, records)
            rows.append(dict(method=method, seed=seed, **result))
            print(f"[{time.time() - start:5.0f}s] {rows[-1]}", flush=True)
            save(rows, curves, args, time.time() - start, tuned, host)
        first = os.path.join(args.runs, f"{next(iter(methods))}_s{seed}")  # same architecture for every method
        result = evaluate(load_model(first, trained=False), args.data, records)
        rows.append(dict(method="untrained", seed=seed, **result))
        print(f"[{time.time() - start:5.0f}s] {rows[-1]}", flush=True)
        save(rows, curves, args, time.time() - start, tuned, host)
    print(open(os.path.join(args.out, "results.md")).read())


def tune_criteria(args, records, start):
    """Equal-budget tuning (``tune.py``): ({"<criterion>_tuned": overrides of the selected setting}, the
    tuning record)."""
    tune_dir, tune_records = tune.carve_validation(args.data, records)

    def train_and_score(criterion, trial, method_overrides):
        save_dir = os.path.join(args.runs, f"tune_{criterion}_t{trial}")
        pretrain(
            method_overrides,
            1,
            tune_dir,
            save_dir,
            args.updates,
            os.path.join(save_dir, "train.log"),
            args.log_interval,
        )
        return evaluate(load_model(save_dir, trained=True), args.data, tune_records)

    record = tune.run(
        list(TUNED_BASE),
        TUNED_BASE,
        args.tune_trials,
        args.tune_seed,
        train_and_score,
        log=lambda line: print(f"[{time.time() - start:5.0f}s] {line}", flush=True),
    )
    return tuned_methods(record), record


def reuse_tuning(path):
    """({"<criterion>_tuned": overrides}, record) from a saved run's tuning record (``--tuned-from``); the
    record notes where the selection came from and at how many updates it was made."""
    saved = json.load(open(path))
    if not saved.get("tuning"):
        raise ValueError(f"{path} holds no tuning record (run it with --tune-trials k first)")
    record = {
        c: dict(rec, reused_from=os.path.relpath(path, ROOT), selected_at_updates=saved["args"]["updates"])
        for c, rec in saved["tuning"].items()
    }
    return tuned_methods(record), record


def tuned_methods(record):
    """{"<criterion>_tuned": fairseq overrides of its selected setting} from a tuning record."""
    return {f"{c}_tuned": tune.overrides(c, rec["selected"], TUNED_BASE[c]) for c, rec in record.items()}


def save(rows, curves, args, elapsed, tuned, host):
    """Write results.json / results.md (and the loss plot when matplotlib is there) after every run."""
    write_json(
        os.path.join(args.out, "results.json"),
        {"rows": rows, "curves": curves, "args": vars(args), "seconds": elapsed, "tuning": tuned, "machine": host},
    )
    has_png = plot(curves, os.path.join(args.out, "pretrain_loss.png"), args.log_interval)
    records = [json.loads(line) for line in open(os.path.join(args.data, "labels.jsonl"))]
    write_markdown(
        rows, args, elapsed, has_png, os.path.join(args.out, "results.md"), majority_baseline(records), tuned, host
    )


def legacy_machine():
    """results.json files written before they recorded the machine: what those runs printed (the architecture
    and core count of the machine rendering them, one torch thread)."""
    import platform

    return machine.describe(dict(arch=platform.machine(), cpus=os.cpu_count(), threads=1))


def write_markdown(rows, args, elapsed, has_png, path, majority, tuned, host):
    names = [*METHODS, *(f"{c}_tuned" for c in TUNED_BASE), "untrained", "raw-features"]
    tune_flag = f" --tune-trials {args.tune_trials}" if args.tune_trials else ""
    if args.tuned_from:
        tune_flag += f" --tuned-from {os.path.relpath(args.tuned_from, ROOT)}"
    if args.methods:
        tune_flag += " --methods " + " ".join(args.methods)
    if args.log_interval != LOG_INTERVAL:
        tune_flag += f" --log-interval {args.log_interval}"
    for flag, value, default in (
        ("--runs", args.runs, os.path.join(ROOT, "runs", "speech_bench")),
        ("--out", args.out, os.path.dirname(os.path.abspath(__file__))),
    ):
        if value and os.path.abspath(value) != default:
            tune_flag += f" {flag} {os.path.relpath(value, ROOT)}"
    lines = [
        "# Speech: frozen linear probes after brief wav2vec (CPC-style) pretraining",
        "",
        "Command: `OMP_NUM_THREADS=1 .venvs/fairseq-torch2/bin/python benchmarks/speech/run.py "
        f"--utterances {args.utterances} --updates {args.updates} --seeds {args.seeds}{tune_flag}`",
        "",
        f"Machine: {host}; wall time {elapsed / 60:.1f} min (runs already finished in --runs are reused, "
        "not retrained).",
        "",
        f"Corpus: {args.utterances} flite utterances (voices slt/rms/awb, random rate/pitch, noise 10-25 dB SNR), "
        f"train/valid by file; {rows[0]['train_frames']} / {rows[0]['valid_frames']} frames of 10 ms, "
        f"{rows[0]['n_phones']} phone classes.",
        "",
        "Accuracy on held-out utterances of a logistic-regression probe on frozen context features c_t "
        "(mean ± std over seeds where seeds > 1):",
        "",
        probe_table(rows, names, LABELS, tuned, majority),
    ]
    reused = [rec for rec in tuned.values() if rec.get("reused_from")]
    if reused:
        lines += [
            "",
            f"The *_tuned rows re-run the selections of `{reused[0]['reused_from']}` (made at "
            f"{reused[0]['selected_at_updates']} updates, {reused[0]['trials']} trials per criterion) for "
            f"{args.updates} updates; no new trials.",
        ]
    if tuned:
        lines += [
            "",
            f"Equal-budget tuning (`benchmarks/speech/tune.py`): {reused[0]['trials'] if reused else args.tune_trials} trials per criterion over its "
            "own knobs (trial 1 = its default), seed 1, selected on the " + tune.METRIC + "; the selection was "
            "then re-run with every seed above. Validation phone accuracy per trial:",
            "",
            tuning_table(tuned),
        ]
    if has_png:
        lines += ["", "![pretraining loss](pretrain_loss.png)"]
    if os.path.exists(os.path.join(os.path.dirname(path), "speech.png")):
        lines += [
            "",
            "Plot (`.venvs/main/bin/python benchmarks/speech/plot.py`, from results.json):",
            "",
            "![probe accuracies and pretraining losses](speech.png)",
        ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
