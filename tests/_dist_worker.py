"""Worker run by tests/test_distributed.py in each gloo process (importable for spawn)."""

import os

import torch
import torch.distributed as dist

import rpc_plugins as rp

N_PER_RANK, DIM = 5, 6
BATCH_SIZES = (N_PER_RANK, 1)  # 1 pair per rank: every negative comes from the other ranks


def global_batch(world_size, seed=0, n_per_rank=N_PER_RANK):
    g = torch.Generator().manual_seed(seed)
    n = n_per_rank * world_size
    out0 = torch.randn(n, DIM, generator=g, dtype=torch.float64)
    return (
        out0,
        out0 + 0.5 * torch.randn(n, DIM, generator=g, dtype=torch.float64),
        torch.randn(3, DIM, generator=g, dtype=torch.float64),
    )


def loss_functions():
    """name -> (loss factory, uses extra negatives). Every case is run single- and multi-process."""
    cases = {}
    for method in ("dense", "gram"):
        cases[f"rpc-gather-{method}"] = lambda g, m=method: rp.RPCLoss(gather_distributed=g, method=m, temperature=0.5)
    cases["rpc-moments"] = lambda g: rp.RPCLoss(gather_distributed=g, distributed_mode="moments", temperature=0.5)
    cases["rpc-moments-unnormalised"] = lambda g: rp.RPCLoss(
        gather_distributed=g, distributed_mode="moments", normalize=False, temperature=4.0
    )
    cases["rpc-moments-queue"] = QueueRPC
    for name in ("infonce", "mio", "js", "nwj"):
        cases[name] = lambda g, o=name: rp.ContrastiveLoss(o, gather_distributed=g)
    return cases


class QueueRPC:
    """RPC in the queue layout (anchors out0, negatives the bank only), all-reduced across ranks when ``g``:
    every rank shares the bank, so the global moments are one process's on the concatenated batch."""

    def __init__(self, g):
        self.reduction = "all_reduce" if g else "local"

    def __call__(self, out0, out1, negatives=None):
        bank = negatives if negatives is not None else torch.ones(2, out0.shape[1], dtype=out0.dtype)
        moments = rp.embedding_moments(out0, out1, 0.5, True, bank, layout="queue", reduction=self.reduction)
        return rp.rpc_loss_from_moments(moments)


def case_key(name, extra, n_per_rank):
    return f"{name}-{'bank' if extra is not None else 'plain'}-n{n_per_rank}"


def loss_and_grads(loss_fn, out0, out1, negatives=None):
    out0 = out0.clone().requires_grad_(True)
    out1 = out1.clone().requires_grad_(True)
    loss = loss_fn(out0, out1, negatives)
    loss.backward()
    return loss.detach(), out0.grad, out1.grad


def run(rank, world_size, init_file, result_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    results = {}
    for n_per_rank in BATCH_SIZES:
        out0, out1, negatives = global_batch(world_size, n_per_rank=n_per_rank)
        local = slice(rank * n_per_rank, (rank + 1) * n_per_rank)
        for name, make in loss_functions().items():
            for extra in (None, negatives):
                key = case_key(name, extra, n_per_rank)
                results[key] = loss_and_grads(make(True), out0[local], out1[local], extra)
    results["ddp-params"] = ddp_training(world_size, rank)
    torch.save(results, os.path.join(result_dir, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()


def train_steps(model, batches, loss_fn, steps=3):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        x0, x1 = batches
        loss = loss_fn(model(x0), model(x1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def ddp_model_and_batches(world_size, rank=None):
    torch.manual_seed(1)
    model = torch.nn.Linear(DIM, 4).double()
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(N_PER_RANK * world_size, DIM, generator=g, dtype=torch.float64)
    x1 = x0 + 0.3 * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    if rank is not None:
        local = slice(rank * N_PER_RANK, (rank + 1) * N_PER_RANK)
        x0, x1 = x0[local], x1[local]
    return model, (x0, x1)


def ddp_training(world_size, rank):
    """DistributedDataParallel with both RPC modes: final parameters per mode."""
    params = {}
    for mode in ("gather", "moments"):
        model, batches = ddp_model_and_batches(world_size, rank)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        params[mode] = train_steps(
            ddp, batches, rp.RPCLoss(gather_distributed=True, distributed_mode=mode, temperature=0.5)
        )
    return params
