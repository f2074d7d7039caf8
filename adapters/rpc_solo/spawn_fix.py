"""Give every ``ddp_cpu`` (spawned) rank its own parameter storage under PyTorch Lightning 1.4.

PL 1.4's ``accelerator="ddp_cpu"`` passes the model to ``torch.multiprocessing.spawn``, which moves
CPU tensors into shared memory: both ranks then hold the SAME parameter and buffer storage
(measured: rank 1 reads the value rank 0 writes), so the ranks' optimizer steps race on one set of
weights and a 2-process run of solo-learn 1.0.2 intermittently ends with NaN/Inf weights.
Cloning ``.data`` at train start (after DDP's initial broadcast, before the first step) restores
real data parallelism: DDP and the optimizers keep the same ``Parameter`` objects. Used by
``rpc_solo.pretrain`` for ``--accelerator ddp_cpu``.

>>> import torch
>>> m = torch.nn.Linear(2, 1); m.share_memory()  # doctest: +ELLIPSIS
Linear(...)
>>> unshare_(m).weight.is_shared()
False
"""

import pytorch_lightning as pl
import torch


def unshare_(module: torch.nn.Module) -> torch.nn.Module:
    """Replace every parameter's and buffer's storage by a private copy (in place; same objects)."""
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            t.data = t.data.clone()
    return module


class UnshareSpawnedParameters(pl.Callback):
    """PL 1.4 callback: ``unshare_`` the LightningModule in each rank at train start (module level: picklable)."""

    def on_train_start(self, trainer, pl_module):
        unshare_(pl_module)


def unshare_callback() -> UnshareSpawnedParameters:
    return UnshareSpawnedParameters()
