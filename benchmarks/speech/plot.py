"""Plot benchmarks/speech/results.json (written by run.py in the fairseq env, which has no matplotlib).

Probe accuracies per pretraining criterion (mean and per-seed points) and each criterion's training loss;
see run.py for the claim under test.

    .venvs/main/bin/python benchmarks/speech/plot.py

>>> # python benchmarks/speech/plot.py --results benchmarks/speech/results.json --out benchmarks/speech/speech.png
"""

import argparse
import json
import os

import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the checkout

from benchmarks.harness.plots import figure, save  # noqa: E402
from benchmarks.speech.run import LOG_INTERVAL  # noqa: E402

ORDER = [
    "rpc",
    "rpc_a1",
    "infonce",
    "binary",
    "rpc_tuned",
    "infonce_tuned",
    "binary_tuned",
    "untrained",
    "raw-features",
]
LABELS = {
    "rpc": "RPC α=0.3",
    "rpc_a1": "RPC α=1",
    "infonce": "InfoNCE (CPC)",
    "binary": "binary (wav2vec v1)",
    "rpc_tuned": "RPC tuned",
    "infonce_tuned": "InfoNCE tuned",
    "binary_tuned": "binary tuned",
    "untrained": "untrained",
    "raw-features": "raw spectrum",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=os.path.join(HERE, "results.json"))
    parser.add_argument("--out", default=os.path.join(HERE, "speech.png"))
    args = parser.parse_args()
    data = json.load(open(args.results))
    rows = data["rows"]
    methods = [m for m in ORDER if any(r["method"] == m for r in rows)]

    fig, axes = figure(3, width=14 / 3, height=4)
    for ax, key, title in (
        (axes[0], "phone_acc", "phone probe (frame)"),
        (axes[1], "speaker_acc", "speaker probe (frame)"),
    ):
        for i, m in enumerate(methods):
            vals = np.array([r[key] for r in rows if r["method"] == m])
            ax.bar(i, vals.mean(), color=f"C{i}", alpha=0.6)
            ax.scatter(np.full(len(vals), i), vals, color="k", s=12, zorder=3)
        ax.set_xticks(range(len(methods)), [LABELS[m] for m in methods], rotation=20, fontsize=8)
        ax.set_ylabel("held-out accuracy"), ax.set_title(title)
    for i, m in enumerate(methods):
        curve = data["curves"].get(m)
        if curve:
            step = data["args"].get("log_interval", LOG_INTERVAL)  # updates between logged losses
            axes[2].plot(np.arange(1, len(curve) + 1) * step, curve, color=f"C{i}", label=LABELS[m])
    axes[2].set_xlabel("update"), axes[2].set_ylabel("training loss (own objective, bits)")
    axes[2].set_title("pretraining loss (seed 1)"), axes[2].legend(fontsize=8)
    save(fig, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
