"""Turn the device run's output folder into results.md (+ cost.png, mi.png, vision/) for the repository.

Reads env.json, progress.log and the parts' JSON files exactly as the GPU machine wrote them; a
part that is missing, cut off or failed is shown as such (with its log's last lines), never filled in.

    python benchmarks/device/render.py OUT_DIR --to benchmarks/device     # after a GPU run
    python benchmarks/device/render.py /tmp/dry --to /tmp/dry_render       # after a dry run
"""

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for path in (os.path.join(ROOT, "adapters"), ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from results import load  # noqa: E402

from benchmarks.harness.tables import markdown  # noqa: E402

FILES = dict(
    a="a_correctness.json", b="b_nosync.json", c="c_cost.json", d="d_step.json", e="e_mi.json", f="f_vision.json"
)
TITLES = dict(
    a="a. Correctness on the device: fused RPC vs the float64 dense reference",
    b="b. No host synchronisation in a training step",
    c="c. Cost: RPC (fused) vs lightly's NTXentLoss / DCLLoss",
    d="d. Training-step overhead: timm ResNet-18, RPC vs NT-Xent",
    e="e. MI estimation: the authors' full protocol",
    f="f. Vision: ResNet-18 on Fashion-MNIST",
)


def _read(folder, name):
    try:
        return load(os.path.join(folder, name))
    except (OSError, ValueError):
        return None


def _sci(x):
    return "-" if x is None else f"{x:.1e}"


def header(folder, env):
    lines = ["# Device run (issue 22): every GPU claim in one prepared run", ""]
    if env is None:
        return lines + ["env.json is missing: the machine is unknown.", ""]
    if env.get("dry_run"):
        lines += [
            "**Dry run**: tiny sizes on the CPU, a check that the script runs; no number here is a GPU result.",
            "",
        ]
    gpu = env.get("gpu", "no GPU")
    lines += [
        f"Machine: {gpu} ({env.get('gpu_memory_gib', '-')} GiB, compute capability "
        f"{env.get('compute_capability', '-')}), driver/nvidia-smi: `{env.get('nvidia_smi', '-')}`  ",
        f"torch {env['torch']} (CUDA {env['torch_cuda']}, cuDNN {env.get('cudnn', '-')}), Python {env['python']}, "
        f"{env['cpus']} CPUs; lightly {env['packages'].get('lightly')}, timm {env['packages'].get('timm')}, "
        f"transformers {env['packages'].get('transformers')}; carried wheels: "
        f"{', '.join(env.get('carried_wheels') or []) or 'none'}; float32 matmul TF32: {env.get('matmul_tf32')}.  ",
        "Command: `bash benchmarks/device/run.sh` (output folder rendered by `python benchmarks/device/render.py`).",
        "",
    ]
    try:
        with open(os.path.join(folder, "progress.log")) as f:
            lines += ["Progress log:", "", "```", f.read().rstrip(), "```", ""]
    except OSError:
        pass
    return lines


def status_line(data):
    if data is None:
        return ["Not in the output folder: the run ended before this part wrote anything.", ""]
    lines = [f"Status: **{data.get('status')}**" + (f", {data['wall_s']} s" if "wall_s" in data else "") + "."]
    for s in data.get("skipped") or []:
        lines.append(f"- not run: {s['what']}: {s['reason']}")
    if data.get("status") != "ok" and data.get("log_tail"):
        lines += ["", "Last lines of its log:", "", "```", data["log_tail"].rstrip()[-1500:], "```"]
    return lines + [""]


def part_a(data):
    lines = []
    for c in data.get("reference_check") or []:
        lines.append(
            f"Reference check ({c['setting']}, N = {c['n']}, {c['bank']} extra negatives, float64): block "
            f"reference vs the package's dense path, loss {_sci(c['loss_rel'])}, gradients "
            f"{_sci(c['grad0_rel'])} / {_sci(c['grad1_rel'])} relative: {'ok' if c['ok'] else 'FAIL'}.  "
        )
    tol = data.get("tolerance", {})
    lines += [
        "",
        f"Pass marks (relative, loss / gradients): float32 inputs {tol.get('float32')}, bf16 inputs "
        f"{tol.get('bf16')}; `<= 2e-5`: the loss within the README's CPU figure.",
        "",
        markdown(
            [
                "N",
                "setting",
                "precision",
                "path",
                "loss rel. error",
                "grad rel. error (out0 / out1)",
                "grad dtype",
                "loss <= 2e-5",
                "pass",
            ],
            [
                [
                    r["n"],
                    r["setting"],
                    r["precision"],
                    r["method"],
                    _sci(r["loss_rel"]),
                    f"{_sci(r['grad0_rel'])} / {_sci(r['grad1_rel'])}",
                    r["grad_dtype"],
                    "yes" if r["within_readme_2e_5"] else "no",
                    "ok" if r["ok"] else "**FAIL**",
                ]
                for r in data.get("rows") or []
            ],
            align="rlllrrlll",
        ),
    ]
    return lines + [""]


def part_b(data):
    lines = [
        f"Sync check: {data.get('sync_check')}; batch {data.get('batch')}, {data.get('bank')} queued negatives.",
        "",
        markdown(
            ["group", "loss", "result", "detail"],
            [[r["group"], r["loss"], r["status"], r["detail"].replace("|", "/")] for r in data.get("rows") or []],
            align="llll",
        ),
    ]
    return lines + [""]


def part_c(data, to):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks", "cost"))
    from benchmarks.cost import run as cost

    rows = data.get("rows") or []
    lines = [f"Command: `{data.get('command')}`  ", f"Machine: {data.get('machine', '-')}  "]
    fits = data.get("fits") or {}
    if fits:
        lines.append(
            "Largest N that ran (float32): "
            + ", ".join(f"{k} {v:,}" if v else f"{k} none" for k, v in fits.items())
            + "."
        )
    lines += ["", cost.table(rows), ""]
    if data.get("steps"):
        lines += [cost.step_table(data["steps"]), ""]
    if any("skipped" not in r for r in rows):
        cost.plot(rows, os.path.join(to, "cost.png"))
        lines += ["![cost](cost.png)", ""]
    return lines


def part_d(data):
    lines = [
        "Median ms per step (forward of two views, loss, backward, SGD); loss alone: forward + backward on "
        "the step's B x 128 embeddings. Goal: RPC within +5% of NT-Xent.",
        "",
    ]
    rows, body = data.get("rows") or [], []
    for i in range(0, len(rows) - 1, 2):
        ntx, rpc = rows[i], rows[i + 1]
        peak = "-" if ntx["peak_mib"] is None else f"{ntx['peak_mib']:.0f} / {rpc['peak_mib']:.0f}"
        body.append(
            [
                ntx["batch"],
                ntx["precision"],
                f"{ntx['step_ms']:.2f}",
                f"{rpc['step_ms']:.2f}",
                f"{100 * rpc['rpc_overhead']:+.1f}%",
                "met" if rpc["goal_met"] else "not met",
                f"{ntx['loss_only_ms']:.2f} / {rpc['loss_only_ms']:.2f}",
                peak,
            ]
        )
    lines.append(
        markdown(
            [
                "B",
                "precision",
                "NT-Xent step ms",
                "RPC step ms",
                "RPC overhead",
                "goal",
                "NT-Xent / RPC loss alone ms",
                "peak MiB NT-Xent / RPC",
            ],
            body,
            align="rlrrrlrr",
        )
    )
    return lines + [""]


def part_e(data, to):
    from benchmarks.mi import report as mi

    lines = [
        f"Command per wave: `{data.get('command')} --seeds S --tasks T --tag sS_T`; protocol: {data.get('protocol')}.",
        "",
    ]
    for w in data.get("waves") or []:
        lines.append(
            f"- seed {w['seed']} {w['task']}: {'done' if 'stats' in w else 'not finished'} in {w['seconds']} s"
        )
    combined = data.get("combined")
    if not combined:
        return lines + ["", "No wave finished: no MI table.", ""]
    lines += [
        "",
        f"Seeds per task: {combined['seeds']}; {combined['steps_per_level']} steps per level, statistics over "
        f"the last {combined['tail']}, critic width {combined['hidden']}.",
        "",
    ]
    authors = mi.AUTHORS if combined["hidden"] == 512 else None
    for task in combined["stats"]:
        lines += [mi.table(combined["stats"], task, authors), ""]
    plot_mi(combined["stats"], os.path.join(to, "mi.png"), mi.LEVELS)
    return lines + ["![mi](mi.png)", ""]


def plot_mi(stats, path, levels):
    from benchmarks.harness import plots

    tasks = list(stats)
    fig, axes = plots.figure(len(tasks))
    for ax, task in zip(axes, tasks):
        for name, rows in stats[task].items():
            ax.plot(levels, [r["mean"] for r in rows], marker="o", label=name)
        ax.plot(levels, levels, "k--", label="true MI")
        ax.set(xlabel="true MI (nats)", ylabel="estimate, mean of the tail", title=task)
        ax.legend(fontsize=6)
    plots.save(fig, path)


def part_f(data, to):
    vision = data.get("vision")
    if not vision or not vision.get("results"):
        return ["No vision run finished.", ""]
    from benchmarks.vision import report

    folder = os.path.join(to, "vision")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "results.json")
        with open(path, "w") as f:
            json.dump(vision, f)
        report.render([path], folder)
    lines = [
        "Commands: " + "; ".join(f"`{c}`" for c in data.get("commands") or []),
        "",
        "The vision script's own report: [vision/results.md](vision/results.md).",
        "",
    ]
    with open(os.path.join(folder, "results.md")) as f:
        text = f.read()
    section = (
        report.accuracy_section(vision["results"], vision["args"])
        if hasattr(report, "accuracy_section")
        else text.splitlines()
    )
    lines += [("#" + line) if line.startswith("## ") else line for line in section]  # one level below this part
    return lines + ["", "![vision](vision/vision.png)", ""]


def render(folder, to):
    os.makedirs(to, exist_ok=True)
    lines = header(folder, _read(folder, "env.json"))
    for part, name in FILES.items():
        data = _read(folder, name)
        lines += [f"## {TITLES[part]}", ""] + status_line(data)
        if data is None or not (data.get("rows") or data.get("waves") or data.get("vision")):
            continue
        body = dict(a=part_a, b=part_b, d=part_d)
        lines += body[part](data) if part in body else dict(c=part_c, e=part_e, f=part_f)[part](data, to)
    with open(os.path.join(to, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return os.path.join(to, "results.md")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="the device run's output folder ($OUT)")
    p.add_argument("--to", default=HERE, help="where results.md and the plots go (default: benchmarks/device)")
    args = p.parse_args()
    print(open(render(args.folder, args.to)).read())


if __name__ == "__main__":
    main()
