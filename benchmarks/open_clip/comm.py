"""Bytes communicated per training step by RPC all-reduce, ClipLoss and SigLipLoss: recorded, not modelled.

Two gloo processes (world size 2, CPU) each run one loss forward + backward on their half of a global
batch of N image-text pairs, d = 512, float32, while every torch.distributed collective is wrapped:
each call's name and tensor sizes are recorded as it is issued (open_clip's own code paths: ClipLoss's
``gather_features`` through torch.distributed(.nn).all_gather, SigLipLoss's neighbour exchange through
batch_isend_irecv; RPC's all_reduce through the core's autograd all-reduce). Reported per rank and step:

* payload: the bytes of the tensors each call carries for this rank (all_reduce: the reduced tensor;
  all_gather: this rank's input; reduce_scatter: this rank's output; a send: its message);
* sent (ring model): what a ring algorithm sends per rank for those calls, (W-1)/W x 2 x B for an
  all_reduce of B bytes, (W-1) x B for an all_gather or reduce_scatter of B per rank, B for a send
  (gloo has no reduce_scatter: torch.distributed.nn's all_gather backward issues one scatter from each
  rank instead, (W-1) x B sent by its source, the same total).

RPC runs at every N. ClipLoss and SigLipLoss build B x N score matrices, which at N = 32k and 256k do not
fit this 24 GiB machine: they are run at N = 256, 1024 and 4096, their bytes are fitted exactly by
a + b N (checked on the three runs) and extrapolated to the larger N, and the table says so.

    python benchmarks/open_clip/comm.py                      # the committed table
    python benchmarks/open_clip/comm.py --sizes 256 1024 --rpc-sizes 256 --out /tmp/comm.json   # smoke
    python benchmarks/open_clip/comm.py --device cuda --sizes 4096 32768   # two GPUs, nccl (reduce_scatter)
"""

import argparse
import os
import sys
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path += [ROOT, os.path.join(ROOT, "adapters")]  # a checkout without installing (installed packages first)

WORLD = 2
COLLECTIVES = (
    "all_reduce", "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor",
    "all_to_all", "all_to_all_single", "broadcast", "reduce", "gather", "scatter", "send", "recv",
)  # fmt: skip
LOSSES = (
    "RPC all_reduce",
    "ClipLoss local_loss+gather_with_grad",
    "ClipLoss (open_clip defaults)",
    "SigLipLoss bidir",
)


def _bytes(t):
    return t.numel() * t.element_size()


class Recorder:
    """Wraps torch.distributed's collectives; ``calls``: (name, payload bytes, ring-model sent bytes)."""

    def __init__(self, world):
        self.world, self.calls, self._saved = world, [], {}

    def __enter__(self):
        for name in COLLECTIVES + ("batch_isend_irecv",):
            if hasattr(dist, name):
                self._saved[name] = getattr(dist, name)
                setattr(dist, name, self._wrap(name, self._saved[name]))
        return self

    def __exit__(self, *exc):
        for name, fn in self._saved.items():
            setattr(dist, name, fn)

    def _wrap(self, name, fn):
        def wrapped(*args, **kwargs):
            self.record(name, args, kwargs)
            return fn(*args, **kwargs)

        return wrapped

    def record(self, name, args, kwargs):
        w = self.world
        if name == "batch_isend_irecv":
            for op in args[0]:
                if op.op.__name__ == "isend":  # received bytes are the other rank's sends
                    self.calls.append(("isend", _bytes(op.tensor), _bytes(op.tensor)))
            return
        if name in ("all_gather", "reduce_scatter", "all_to_all", "scatter", "gather"):
            # (output list, input) or (output, input list): the per-rank piece
            piece = args[1] if name == "all_gather" else args[0]
            size = _bytes(piece) if torch.is_tensor(piece) else _bytes(piece[0])
        elif name in ("all_gather_into_tensor", "reduce_scatter_tensor"):
            size = min(_bytes(args[0]), _bytes(args[1]))
        else:
            size = _bytes(args[0])
        if name == "all_reduce":
            sent = 2 * (w - 1) * size // w
        elif name in ("all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor"):
            sent = (w - 1) * size
        elif name == "scatter":  # torch.distributed.nn's reduce-scatter on gloo: one scatter from each rank
            src = kwargs.get("src", args[2] if len(args) > 2 else 0)
            sent = (w - 1) * size if src == dist.get_rank() else 0
        else:
            sent = size
        self.calls.append((name, size, sent))


def make_loss(name, rank, world):
    import open_clip

    from rpc_open_clip import ObjectiveClipLoss

    if name == "RPC all_reduce":
        return ObjectiveClipLoss("rpc", rank=rank, world_size=world)
    if name.startswith("ClipLoss"):
        tuned = "gather_with_grad" in name
        return open_clip.ClipLoss(
            local_loss=tuned, gather_with_grad=tuned, cache_labels=True, rank=rank, world_size=world
        )
    return open_clip.loss.SigLipLoss(rank=rank, world_size=world, dist_impl="bidir")


def step(name, n_per_rank, dim, rank, world, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed + rank)
    image = F.normalize(torch.randn(n_per_rank, dim, generator=g), dim=1).to(device).requires_grad_(True)
    text = F.normalize(torch.randn(n_per_rank, dim, generator=g), dim=1).to(device).requires_grad_(True)
    scale = torch.tensor(10.0, device=device, requires_grad=True)
    bias = torch.tensor(-10.0, device=device, requires_grad=True) if name.startswith("SigLip") else None
    loss_fn = make_loss(name, rank, world)
    with Recorder(world) as recorder:
        loss = loss_fn(image, text, scale, bias) if bias is not None else loss_fn(image, text, scale)
        loss.backward()
    return recorder.calls


def worker(rank, world, init_file, jobs, out_dir, device="cpu"):
    torch.set_num_threads(1)
    backend = "nccl" if device == "cuda" else "gloo"
    if device == "cuda":
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank, world_size=world)
    results = []
    for name, n_global, dim in jobs:
        calls = step(name, n_global // world, dim, rank, world, f"cuda:{rank}" if device == "cuda" else "cpu")
        results.append(dict(loss=name, N=n_global, d=dim, calls=calls))
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()


def run_jobs(jobs, device="cpu"):
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(worker, args=(WORLD, os.path.join(tmp, "init"), jobs, tmp, device), nprocs=WORLD, join=True)
        per_rank = [torch.load(os.path.join(tmp, f"rank{r}.pt")) for r in range(WORLD)]
    rows = []
    for results in zip(*per_rank):
        sums = [(sum(c[1] for c in r["calls"]), sum(c[2] for c in r["calls"])) for r in results]
        if len(set(sums)) != 1:
            raise RuntimeError(f"ranks communicated different amounts: {results[0]['loss']} {sums}")
        r = results[0]
        names = sorted({c[0] for c in r["calls"]})
        rows.append(dict(loss=r["loss"], N=r["N"], d=r["d"], payload_bytes=sums[0][0], sent_bytes=sums[0][1],
                         calls=len(r["calls"]), collectives=names, measured=True))  # fmt: skip
    return rows


def extrapolate(rows, name, sizes):
    """Exact a + b N fit of the measured rows of ``name`` (checked on every measured N), at ``sizes``."""
    measured = sorted((r for r in rows if r["loss"] == name and r["measured"]), key=lambda r: r["N"])
    (n0, r0), (n1, r1) = (measured[0]["N"], measured[0]), (measured[-1]["N"], measured[-1])
    out = []
    for key in ("payload_bytes", "sent_bytes"):
        b = (r1[key] - r0[key]) / (n1 - n0)
        a = r0[key] - b * n0
        for r in measured:
            if abs(a + b * r["N"] - r[key]) > 0.5:
                raise RuntimeError(f"{name} {key} is not linear in N: {[(m['N'], m[key]) for m in measured]}")
        for n in sizes:
            row = next((x for x in out if x["N"] == n), None)
            if row is None:
                row = dict(loss=name, N=n, d=r0["d"], calls=r0["calls"], collectives=r0["collectives"], measured=False,
                           extrapolated_from=[m["N"] for m in measured])  # fmt: skip
                out.append(row)
            row[key] = int(round(a + b * n))
    return out


def main(argv=None):
    from benchmarks.harness import machine
    from benchmarks.open_clip import common

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096], help="N run for every loss")
    parser.add_argument("--rpc-sizes", type=int, nargs="+", default=[4096, 32768, 262144], help="N run for RPC")
    parser.add_argument("--report-sizes", type=int, nargs="+", default=[4096, 32768, 262144])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cuda: nccl, one GPU per rank")
    parser.add_argument("--out", default=common.RESULTS)
    args = parser.parse_args(argv)
    jobs = [(name, n, args.dim) for name in LOSSES[1:] for n in args.sizes]
    jobs += [(LOSSES[0], n, args.dim) for n in sorted(set(args.sizes) | set(args.rpc_sizes))]
    rows = run_jobs(jobs, args.device)
    for name in LOSSES[1:]:
        rows += extrapolate(rows, name, [n for n in args.report_sizes if n not in args.sizes])
    for row in rows:
        print(row["loss"], row["N"], row["payload_bytes"], row["sent_bytes"], "measured" if row["measured"] else "fit")
    section = dict(
        command=common.command_line(),
        gpu_command="python benchmarks/open_clip/comm.py --device cuda --sizes 4096 32768 --out "
        "benchmarks/open_clip/cuda/results.json  (two GPUs, nccl; not run: no GPU in this run)",
        scale="CPU scale (world size 2, gloo)" if args.device == "cpu" else "world size 2, nccl",
        world_size=WORLD,
        machine=machine.describe(machine.facts(threads=1)),
        args=vars(args),
        rows=rows,
    )
    common.write_section("bytes", section, args.out)


if __name__ == "__main__":
    main()
