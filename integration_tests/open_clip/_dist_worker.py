"""Worker run by test_distributed.py in each gloo process (importable for spawn): every rank computes
each case on its slice of one global batch and saves losses and gradients for the parent to compare."""

import os

import torch
import torch.distributed as dist
import torch.nn.functional as F
from open_clip import ClipLoss

from rpc_open_clip import ObjectiveClipLoss

N_PER_RANK, DIM = 4, 5
SCALE, BIAS = 3.0, -1.5
# ClipLoss's distributed settings: open_clip's default, and what its users set for exact gradients
CLIP_SETTINGS = [(False, False), (False, True), (True, False), (True, True)]


def global_batch(world_size, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = N_PER_RANK * world_size
    image = F.normalize(torch.randn(n, DIM, generator=g, dtype=torch.float64), dim=1)
    text = F.normalize(image + 0.7 * torch.randn(n, DIM, generator=g, dtype=torch.float64), dim=1)
    return image, text


def loss_and_grads(loss_fn, image, text, bias=None):
    """(loss, d image, d text, d logit_scale[, d logit_bias]) of ``loss_fn`` at the module's scale and bias."""
    image, text = image.clone().requires_grad_(True), text.clone().requires_grad_(True)
    scale = torch.tensor(SCALE, dtype=image.dtype, requires_grad=True)
    inputs = [image, text, scale]
    if bias is not None:
        inputs.append(torch.tensor(bias, dtype=image.dtype, requires_grad=True))
    loss = loss_fn(*inputs)
    loss.backward()
    return [loss.detach()] + [x.grad for x in inputs]


def cases(rank, world_size):
    """name -> loss function of (image, text, logit_scale[, logit_bias]) for this rank."""
    out = {}
    for local_loss, with_grad in CLIP_SETTINGS:
        kw = dict(local_loss=local_loss, gather_with_grad=with_grad, rank=rank, world_size=world_size)
        key = f"local{int(local_loss)}-grad{int(with_grad)}"
        out[f"clip-{key}"] = ClipLoss(cache_labels=True, **kw)
        out[f"infonce-{key}"] = ObjectiveClipLoss("infonce", cache_labels=True, **kw)
    for reduction in ("all_reduce", "gather"):
        for method in ("dense", "gram"):
            if reduction == "all_reduce" and method == "dense":
                continue  # all_reduce is gram by definition
            out[f"rpc-{reduction}-{method}"] = ObjectiveClipLoss(
                "rpc", reduction=reduction, method=method, rank=rank, world_size=world_size
            )
    out["rpc-all_reduce-knobs"] = ObjectiveClipLoss(
        "rpc", alpha=0.7, beta=0.2, gamma=0.05, rank=rank, world_size=world_size
    )
    return out


class CollectiveLog:
    """Counts the torch.distributed collectives issued while active (by wrapping the functions)."""

    NAMES = ("all_reduce", "all_gather", "all_gather_into_tensor", "broadcast", "send", "recv", "isend", "irecv")

    def __init__(self):
        self.calls = []

    def __enter__(self):
        self._saved = {name: getattr(dist, name) for name in self.NAMES}
        for name, fn in self._saved.items():
            setattr(dist, name, self._wrap(name, fn))
        return self

    def _wrap(self, name, fn):
        def wrapped(*args, **kwargs):
            self.calls.append(name)
            return fn(*args, **kwargs)

        return wrapped

    def __exit__(self, *exc):
        for name, fn in self._saved.items():
            setattr(dist, name, fn)


def run(rank, world_size, init_file, result_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    image, text = global_batch(world_size)
    local = slice(rank * N_PER_RANK, (rank + 1) * N_PER_RANK)
    results = {}
    for name, fn in cases(rank, world_size).items():
        results[name] = loss_and_grads(fn, image[local], text[local])
        if name.startswith(("rpc-all_reduce-gram", "clip-local1-grad1", "infonce-local1-grad1")):
            results[name + "-bias"] = loss_and_grads(fn, image[local], text[local], BIAS)
    with CollectiveLog() as log:
        loss_and_grads(ObjectiveClipLoss("rpc", rank=rank, world_size=world_size), image[local], text[local])
    results["rpc-all_reduce-collectives"] = log.calls
    torch.save(results, os.path.join(result_dir, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()
