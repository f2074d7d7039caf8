"""Part a: the fused (default) RPC path on the device against the float64 dense reference.

For N up to 65536 two-view pairs (D = 128), the package's default ``rpc_plugins.RPCLoss`` (method
"auto": the fused linear-time path at these sizes) computes the loss and both input gradients in
four precisions: float32 inputs; bf16 inputs (what a model under autocast emits); float32 inputs
with the loss called inside ``torch.autocast(bfloat16)``; bf16 inputs inside autocast. Each is
compared with ``reference.rpc_loss_and_grads`` (explicit score blocks, float64) on the very same
input values: relative error of the loss and ||grad - ref|| / ||ref|| per input. Three settings:
the defaults, the authors' CIFAR-10 preset (raw projections, T = 128) and the defaults with 4096
extra negatives (a memory bank). The reference itself is first checked against the package's
dense float64 path at a size where that fits.

Pass marks (stated before the run): float32 inputs, autocast included, 1e-4 relative for the loss
and the gradients (a float32 computation lands far below 1e-3); bf16 inputs: 1e-4 for the loss
(computed in float32 from bf16 values that float32 holds exactly) and 1e-2 for the gradients
(returned in bf16, 2^-8 relative rounding). The README's CPU figure, loss within 2e-5 of float64
up to N = 65536, is recorded per row as ``within_readme_2e-5``.

    python benchmarks/device/correctness.py --out a.json --dry-run
"""

import time

import common
import torch

import rpc_plugins as rp
from rpc_plugins.fused_statistics import choose_method
from reference import relative_error, rpc_loss_and_grads
from results import PartFile


def paper_preset(setting):
    """``RPCLoss.from_paper(setting)``'s settings as keyword arguments (for RPCLoss and the reference)."""
    loss = rp.RPCLoss.from_paper(setting)
    return dict(
        alpha=loss.alpha, beta=loss.beta, gamma=loss.gamma, temperature=loss.temperature, normalize=loss.normalize
    )


SETTINGS = {
    "defaults": dict(kwargs={}, bank=0),
    "cifar10-preset": dict(kwargs=paper_preset("cifar10"), bank=0),
    "defaults+bank4096": dict(kwargs={}, bank=4096),
}
PRECISIONS = ("float32", "bf16", "autocast(float32 inputs)", "autocast(bf16 inputs)")
TOLERANCE = {"float32": (1e-4, 1e-4), "bf16": (1e-4, 1e-2)}  # (loss, gradients), by input dtype
README_FP32 = 2e-5


def views(n, d, bank, device, seed):
    g = torch.Generator(device=device).manual_seed(seed)
    out0 = torch.randn(n, d, generator=g, device=device)
    out1 = out0 + 0.5 * torch.randn(n, d, generator=g, device=device)
    negatives = torch.randn(bank, d, generator=g, device=device) if bank else None
    return out0, out1, negatives


def fused(loss_fn, out0, out1, negatives, autocast, device):
    a, b = out0.detach().clone().requires_grad_(True), out1.detach().clone().requires_grad_(True)
    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=autocast):
        loss = loss_fn(a, b, negatives)
    loss.backward()
    return loss.detach(), a.grad, b.grad


def check_reference(part, device, n, d):
    """The block reference against the package's dense float64 path (both exact: agree to ~1e-12)."""
    out0, out1, negatives = views(n, d, 64, device, seed=99)
    out0, out1, negatives = out0.double(), out1.double(), negatives.double()
    for name, kwargs in (("defaults", {}), ("cifar10-preset", paper_preset("cifar10"))):
        dense = fused(rp.RPCLoss(method="dense", **kwargs), out0, out1, negatives, False, device)
        ref = rpc_loss_and_grads(out0, out1, negatives, block=max(1, n // 3), **_reference_kwargs(kwargs))
        errors = [relative_error(x, y) for x, y in zip(ref, dense)]
        part.update(
            reference_check=(part.data.get("reference_check") or [])
            + [
                dict(
                    setting=name,
                    n=n,
                    d=d,
                    bank=64,
                    loss_rel=errors[0],
                    grad0_rel=errors[1],
                    grad1_rel=errors[2],
                    ok=max(errors) < 1e-10,
                )
            ]
        )


def _reference_kwargs(kwargs):
    full = dict(alpha=0.3, beta=0.01, gamma=0.1, temperature=0.1, normalize=True)
    full.update(kwargs)
    return full


def main():
    args = common.parse(__doc__)
    common.require_device(args.device)
    dry = args.dry_run
    sizes, d = ((64, 300), 16) if dry else ((1024, 8192, 65536), 128)
    block = 97 if dry else None  # the dry run splits the reference into uneven blocks
    part = PartFile(
        args.out,
        "a",
        "Correctness: fused RPC vs the float64 dense reference",
        dry,
        device=args.device,
        d=d,
        sizes=list(sizes),
        precisions=list(PRECISIONS),
        settings=list(SETTINGS),
        tolerance=dict(TOLERANCE, readme_float32_loss=README_FP32),
        matmul_tf32=bool(torch.backends.cuda.matmul.allow_tf32),
    )
    check_reference(part, args.device, 40 if dry else 1024, d)
    for n in sizes:
        for name, setting in SETTINGS.items():
            bank = min(setting["bank"], 2 * n) if dry else setting["bank"]
            out0, out1, negatives = views(n, d, bank, args.device, seed=n)
            loss_fn = rp.RPCLoss(**setting["kwargs"])
            method = choose_method(loss_fn.method, 2 * n, 2 * n + (0 if negatives is None else negatives.shape[0]), d)
            refs = {}
            for precision in PRECISIONS:
                low = "bf16" in precision
                a, b = (out0.bfloat16(), out1.bfloat16()) if low else (out0, out1)
                key = "bf16" if low else "float32"
                t0 = time.time()
                if key not in refs:  # the reference sees the same values the loss sees
                    refs[key] = rpc_loss_and_grads(a, b, negatives, block=block, **_reference_kwargs(setting["kwargs"]))
                ref_s = time.time() - t0
                t0 = time.time()
                got = fused(loss_fn, a, b, negatives, precision.startswith("autocast"), args.device)
                common.sync(args.device)
                fused_s = time.time() - t0
                errors = [relative_error(x, y) for x, y in zip(got, refs[key])]
                finite = all(bool(torch.isfinite(t).all()) for t in got)
                tol_loss, tol_grad = TOLERANCE[key]
                row = dict(
                    n=n,
                    d=d,
                    setting=name,
                    bank=bank,
                    precision=precision,
                    method=method,
                    loss=float(got[0]),
                    loss_ref=float(refs[key][0]),
                    loss_rel=errors[0],
                    grad0_rel=errors[1],
                    grad1_rel=errors[2],
                    grad_dtype=str(got[1].dtype).replace("torch.", ""),
                    finite=finite,
                    ok=finite and errors[0] <= tol_loss and max(errors[1:]) <= tol_grad,
                    within_readme_2e_5=errors[0] <= README_FP32,
                    fused_s=round(fused_s, 4),
                    reference_s=round(ref_s, 3),
                )
                part.add(row)
                print(
                    f"a: N={n} {name} {precision}: loss rel {errors[0]:.1e}, grads {errors[1]:.1e} "
                    f"{errors[2]:.1e} -> {'ok' if row['ok'] else 'FAIL'}",
                    flush=True,
                )
            del refs
            if args.device == "cuda":
                torch.cuda.empty_cache()
    rows = part.data["rows"]
    part.done(all_ok=all(r["ok"] for r in rows) and all(c["ok"] for c in part.data["reference_check"]))


if __name__ == "__main__":
    main()
