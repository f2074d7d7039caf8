"""results.md and open_clip.png from results.json (the sections comm.py, cost.py and zero_shot.py write).

python benchmarks/open_clip/report.py            # re-render the committed files
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path += [ROOT, os.path.join(ROOT, "adapters")]

from benchmarks.harness import plots  # noqa: E402
from benchmarks.harness.rows import cell  # noqa: E402
from benchmarks.harness.tables import markdown, ordered  # noqa: E402
from benchmarks.open_clip import common  # noqa: E402

MiB = 2**20


def _size(n):
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n // 2**20}M"
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else str(n)


def _mb(b):
    return f"{b / 1e6:,.2f}" if b < 1e7 else f"{b / 1e6:,.0f}"


def bytes_table(section):
    rows = section["rows"]
    sizes = section["args"]["report_sizes"]
    body = []
    for name in ordered(rows, "loss"):
        for n in sizes:
            r = next((x for x in rows if x["loss"] == name and x["N"] == n), None)
            if r is None:
                continue
            how = "measured" if r["measured"] else f"fit a + bN on N = {', '.join(map(_size, r['extrapolated_from']))}"
            body.append([name, _size(n), _mb(r["payload_bytes"]), _mb(r["sent_bytes"]), ", ".join(r["collectives"]),
                         str(r["calls"]), how])  # fmt: skip
    header = ["loss", "N", "payload MB / rank", "sent MB / rank (ring)", "collectives", "calls", "how"]
    return markdown(header, body, align="lrrrlrl")


def cost_table(section):
    rows = section["rows"]
    body = []
    for n in sorted({r["N"] for r in rows}):
        line = [_size(n)]
        for name in ordered(rows, "loss"):
            r = next(x for x in rows if x["loss"] == name and x["N"] == n)
            if r["status"] == "run":
                line += [f"{r['peak_bytes'] / MiB:,.0f}", f"{1000 * r['seconds']:,.0f}"]
            else:
                need = r.get("needed_bytes")
                line += [f"not run (needs ~{need / 2**30:.0f} GiB)" if need else r["status"], ""]
        body.append(line)
    header = ["N"] + [h for name in ordered(rows, "loss") for h in (f"{name} peak MiB", f"{name} ms")]
    return markdown(header, body)


def zero_shot_table(section):
    rows = section["rows"]
    body = []
    for name in ordered(rows, "loss"):
        values = [r["zero_shot"] for r in rows if r["loss"] == name]
        seeds = ", ".join(f"{100 * r['zero_shot']:.1f}" for r in rows if r["loss"] == name)
        scale = [r["logit_scale"] for r in rows if r["loss"] == name and "logit_scale" in r]
        body.append([name, cell(values), seeds, f"{sum(scale) / len(scale):.1f}" if scale else ""])
    return markdown(["loss", "zero-shot accuracy % (mean ± std)", "per seed", "final logit scale"], body)


def plot(data, path):
    fig, axes = plots.figure(4, width=4.2, height=3.6)
    if "bytes" in data:
        ax, rows = axes[0], data["bytes"]["rows"]
        for name in ordered(rows, "loss"):
            pts = sorted((r["N"], r["sent_bytes"] / 1e6, r["measured"]) for r in rows if r["loss"] == name)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        ax.set(xscale="log", yscale="log", xlabel="global batch N", ylabel="MB sent per rank per step",
               title=f"communication (d={rows[0]['d']}, world 2)")  # fmt: skip
        ax.legend(fontsize=6)
    if "cost" in data:
        rows = data["cost"]["rows"]
        for ax, key, scale, label in ((axes[1], "peak_bytes", MiB, "peak MiB"), (axes[2], "seconds", 1e-3, "ms")):
            for name in ordered(rows, "loss"):
                pts = sorted((r["N"], r[key] / scale) for r in rows if r["loss"] == name and r["status"] == "run")
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
            ax.set(xscale="log", yscale="log", xlabel="N", ylabel=label,
                   title=f"loss fwd+bwd {label.split()[-1]} (d={rows[0]['d']}, CPU)")  # fmt: skip
            ax.legend(fontsize=6)
    if "zero_shot" in data:
        rows = data["zero_shot"]["rows"]
        names = ordered(rows, "loss")
        plots.grouped_bars(axes[3], rows, names, [("zero_shot", "zero-shot")], key="loss")
        axes[3].set(title="Fashion-MNIST zero-shot (CPU scale)", ylabel="accuracy %")
    plots.save(fig, path)


def render(data):
    parts = ["# RPC in open_clip: communication, loss cost and a small zero-shot task (CPU scale)", ""]
    parts += [
        "Everything here ran on a CPU and is labelled CPU scale: small models, small budgets, a shared machine. "
        "The GPU commands beside each table were not run.",
        "",
    ]
    if "bytes" in data:
        s = data["bytes"]
        parts += [
            "## Bytes communicated per step (recorded from the collectives issued)",
            "",
            f"World size {s['world_size']} (gloo), d = {s['args']['dim']}, float32 features, one loss forward + "
            "backward per rank; every torch.distributed call wrapped and its tensors counted. RPC all-reduces "
            "the d x d statistics (and their gradient in the backward pass): its bytes do not depend on N. "
            "ClipLoss and SigLipLoss were run at N = "
            + ", ".join(map(_size, s["args"]["sizes"]))
            + "; their larger-N rows are the exact linear fit of those runs (their B x N score matrices do not "
            "fit this machine at N = 32k and 256k), marked as such.",
            "",
            bytes_table(s),
            "",
            f"Command: `{s['command']}`  ",
            f"GPU: `{s['gpu_command']}`  ",
            f"Machine: {s['machine']}",
            "",
        ]
    if "cost" in data:
        s = data["cost"]
        parts += [
            "## Peak loss memory and time against N",
            "",
            f"One process, d = {s['args']['dim']}, the loss alone (forward + backward, input gradients included), "
            "peak resident-memory growth and the median time of "
            f"{s['args']['repeats']} repeats, each (loss, N) in a fresh process. RPC is the Gram path that the "
            "all-reduce mode runs on each rank. A size is not run when the loss's measured bytes per N^2 predict "
            f"more than {s['args']['memory_fraction']:.0%} of the available memory: that is where ClipLoss and "
            "SigLipLoss stop.",
            "",
            cost_table(s),
            "",
            f"Command: `{s['command']}`  ",
            f"GPU: `{s['gpu_command']}`  ",
            f"Machine: {s['machine']}",
            "",
        ]
    if "zero_shot" in data:
        s = data["zero_shot"]
        a = s["args"]
        parts += [
            "## Zero-shot Fashion-MNIST with a tiny open_clip model",
            "",
            f"A tiny CLIP (model_configs/{common.TINY_MODEL_NAME}.json: 2-block ViT on 28 x 28, 2-block text "
            f"transformer, embed dim {s['model']['embed_dim']}, random init) trained on {a['train_size']} "
            "Fashion-MNIST training images with captions from class-name templates ("
            + "; ".join(f"'{t}'" for t in s["train_templates"][:2])
            + ", ...), "
            f"{a['steps']} steps of batch {a['batch_size']}, AdamW lr {a['lr']} (cosine, {a['warmup']} warm-up), "
            f"seeds {a['seeds']}: the same budget, batches and seeds for every loss. Zero-shot accuracy on "
            f"{a['test_size']} test images with held-out prompt templates ("
            + "; ".join(f"'{t}'" for t in s["zero_shot_templates"])
            + "). The random-init row is each seed's untrained model, evaluated in the same run. No loss was "
            "tuned for this task: RPC runs at the package's default knobs ("
            + ", ".join(f"{k} {v}" for k, v in s.get("rpc_knobs", {}).items())
            + "), every loss with the same optimizer and learning rate.",
            "",
            zero_shot_table(s),
            "",
            f"Command: `{s['command']}`  ",
            f"GPU: `{s['gpu_command']}`  ",
            f"Machine: {s['machine']}",
            "",
        ]
    parts += ["![communication, memory, time and zero-shot accuracy](open_clip.png)", ""]
    return "\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default=common.RESULTS)
    args = parser.parse_args(argv)
    data = common.read_results(args.results)
    folder = os.path.dirname(os.path.abspath(args.results))
    with open(os.path.join(folder, "results.md"), "w") as f:
        f.write(render(data))
    plot(data, os.path.join(folder, "open_clip.png"))


if __name__ == "__main__":
    main()
