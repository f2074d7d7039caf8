"""Device checks for the adapters' loss calls, made without an accelerator.

* ``meta`` tensors carry shapes and dtypes but no values, so any read of a value on the host (``.item()``,
  ``bool(t)``, ``int(t)``, an op whose output shape depends on the data) raises there. ``OnDevice`` is a
  ``TorchDispatchMode`` that records every aten op touching a tensor that is not on the expected device, e.g. a
  CPU tensor made inside the loss and mixed into its meta computation (on CUDA: a host-to-device copy, or
  NCCL's "Tensors must be CUDA" error in a collective).
* ``recorded_collectives`` wraps ``torch.distributed``'s collectives so that each call records the device of
  every tensor it is handed; ``fake_process_group`` initialises torch.distributed with torch's ``fake`` backend
  (``FakeStore``: a process group of any world size in one process, no data moves), so the distributed branch of a
  loss runs in a single test process.

Used by ``integration_tests/<host>/test_meta.py`` and ``test_collectives.py``; the values a loss call still reads
back are listed in ``adapters/README.md``.

>>> import torch
>>> with OnDevice("meta") as mode:
...     _ = torch.ones(2, device="meta") + 1
>>> mode.off_device
[]
"""

import contextlib
from typing import Iterator, List, Sequence, Tuple

import torch
import torch.distributed as dist
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

COLLECTIVES = (
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "all_to_all",
    "all_to_all_single",
    "broadcast",
    "gather",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
)


class OnDevice(TorchDispatchMode):
    """Records ``(op, device, shape)`` for every tensor an aten op takes or returns off ``device``.

    A 0-dim CPU tensor is not recorded: CUDA kernels take it as a host scalar (no copy, no sync), as torch does
    for a Python number. ``allow``: host tensors that the host library itself keeps off the device (e.g. lightly's
    memory-bank pointer, which lightly reads with ``int()``); ops on them and their views are not recorded.
    """

    def __init__(self, device, allow: Sequence[torch.Tensor] = ()):
        super().__init__()
        self.device = torch.device(device)
        self.allowed = {t.untyped_storage().data_ptr() for t in allow}
        self.off_device: List[Tuple[str, str, Tuple[int, ...]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tensors = [t for t in tree_flatten((args, kwargs, out))[0] if isinstance(t, torch.Tensor)]
        if any(t.device.type != "meta" and t.untyped_storage().data_ptr() in self.allowed for t in tensors):
            return out
        for t in tensors:
            if t.device.type != self.device.type and not (t.device.type == "cpu" and t.dim() == 0):
                self.off_device.append((str(func), str(t.device), tuple(t.shape)))
        return out


@contextlib.contextmanager
def recorded_collectives(monkeypatch) -> Iterator[List[Tuple[str, str]]]:
    """Yield a list that receives ``(collective, device)`` for every tensor handed to a torch.distributed
    collective while the context is open (lists of tensors are flattened)."""
    calls: List[Tuple[str, str]] = []

    def wrap(name, original):
        def collective(*args, **kwargs):
            for t in tree_flatten((args, kwargs))[0]:
                if isinstance(t, torch.Tensor):
                    calls.append((name, str(t.device)))
            return original(*args, **kwargs)

        return collective

    for name in COLLECTIVES:
        if hasattr(dist, name):
            monkeypatch.setattr(dist, name, wrap(name, getattr(dist, name)))
    yield calls


@contextlib.contextmanager
def fake_process_group(world_size: int = 2, rank: int = 0) -> Iterator[None]:
    """torch.distributed initialised with the ``fake`` backend for the duration of the context."""
    from torch.testing._internal.distributed.fake_pg import FakeStore

    dist.init_process_group("fake", store=FakeStore(), rank=rank, world_size=world_size)
    try:
        yield
    finally:
        dist.destroy_process_group()
