"""Plot benchmarks/solo/results.json (written by run.py in the solo env) as results.png.

The solo env (Python 3.9, torch 1.9.1) has no matplotlib, so plot from the main env:

    .venvs/main/bin/python benchmarks/solo/plot.py benchmarks/solo/results.json

>>> import os
>>> os.path.basename(__file__)
'plot.py'
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the checkout


def plot(path):
    from benchmarks.harness.plots import figure, save

    with open(path) as f:
        data = json.load(f)
    results = data["results"]
    keys = [
        ("online_linear", "online linear"),
        ("online_knn", "online kNN"),
        ("frozen_linear", "frozen linear"),
        ("frozen_knn", "frozen 20-NN"),
    ]
    fig, (ax, ax2) = figure(2, width=5.5, height=4)
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        xs = [k + i * width for k in range(len(keys))]
        ax.bar(xs, [r[k] for k, _ in keys], width, label=r["method"])
        ax2.plot(
            [h["epoch"] + 1 for h in r["history"]],
            [h["val_knn_acc1"] / 100 for h in r["history"]],
            marker="o",
            label=r["method"],
        )
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(keys))])
    ax.set_xticklabels([name for _, name in keys])
    ax.set_ylabel("val top-1")
    ax.set_title("Fashion-MNIST subset, same budget")
    ax.legend()
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("online kNN top-1 (solo)")
    ax2.set_title("solo's online kNN per epoch")
    ax2.legend()
    out = os.path.join(os.path.dirname(os.path.abspath(path)), "results.png")
    save(fig, out, dpi=100)
    return out


if __name__ == "__main__":
    print(plot(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results.json")))
