"""Optional C++ kernel for the fused RPC statistics on CPU (opt-in, compiled once on this machine).

The eager chunked kernels (``_fused_chunks``) make several elementwise passes over every chunk
and pay torch's per-op overhead for each; ``_fused_cpu.cpp`` does the same math (the six
statistics of ``fused_statistics``) with each row's elementwise work fused, so every input row is
read from memory once per pass and only the chunk products go to torch's BLAS. It matters for large
batches on CPU (on the 2-core benchmark machine it takes N = 1,048,576 from 4.95x to 3.52x the time
of the two Gram matrices, ``benchmarks/cost/results.md``); a GPU never uses it.

Opt in with ``enable()`` or ``RPC_PLUGINS_CPU_KERNEL=1`` in the environment. The first call compiles
the source with ``torch.utils.cpp_extension`` (a C++ compiler and ninja are needed; about half a
minute) into ``TORCH_EXTENSIONS_DIR`` (default ``~/.cache/torch_extensions``); later processes load
the cached build. Float32/float64 contiguous inputs use it, anything else stays on the eager path.

>>> from rpc_plugins import cpu_kernel
>>> cpu_kernel.disable()
>>> cpu_kernel.is_enabled()
False
"""

import hashlib
import os
import threading
import warnings
from typing import Optional

import torch

ENV_VAR = "RPC_PLUGINS_CPU_KERNEL"
_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_fused_cpu.cpp")
_FLAGS = ["-O3", "-fopenmp-simd"]  # portable code: the loops are memory-bound, -march buys nothing here

_lock = threading.Lock()
_module = None
_enabled = False
_env_tried = False


def _extension_name() -> str:
    """One build per source, flags and torch version (torch's cache keys on the name)."""
    with open(_SOURCE, "rb") as f:
        digest = hashlib.sha1(f.read() + repr((_FLAGS, torch.__version__)).encode()).hexdigest()[:12]
    return "rpc_plugins_fused_cpu_" + digest


def _build(verbose: bool):
    from torch.utils import cpp_extension

    return cpp_extension.load(name=_extension_name(), sources=[_SOURCE], extra_cflags=_FLAGS, verbose=verbose)


def enable(verbose: bool = False) -> None:
    """Compile (or load the cached build of) the kernel and route the CPU fused path through it.

    Raises RuntimeError naming the cause when it cannot be built (no compiler, no ninja, ...).
    """
    global _module, _enabled
    with _lock:
        if _module is None:
            try:
                _module = _build(verbose)
            except Exception as error:  # compiler / ninja / header problems all surface here
                raise RuntimeError(
                    f"rpc_plugins.cpu_kernel: building {_SOURCE} failed ({type(error).__name__}: {error}). "
                    "It needs a C++ compiler and ninja (pip install ninja); the eager path needs neither."
                ) from error
        _enabled = True


def disable() -> None:
    """Back to the eager kernels (the build stays loaded for a later ``enable``)."""
    global _enabled, _env_tried
    with _lock:
        _enabled = False
        _env_tried = True  # an explicit choice outranks the environment variable


def is_enabled() -> bool:
    return _enabled


def loaded() -> Optional[object]:
    """The kernel module when enabled (building it first if ``RPC_PLUGINS_CPU_KERNEL=1``), else None.

    A build requested through the environment that fails warns once and leaves the eager path on.
    """
    global _env_tried
    if not _enabled and not _env_tried and os.environ.get(ENV_VAR, "") not in ("", "0"):
        _env_tried = True
        try:
            enable()
        except RuntimeError as error:
            warnings.warn(f"{ENV_VAR} is set but {error}", RuntimeWarning, stacklevel=3)
    return _module if _enabled else None
