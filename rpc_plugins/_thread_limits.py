"""Single-threaded torch kernels in one worker thread, leaving the process's thread settings alone.

``torch.set_num_threads`` is process-wide: besides the calling thread's OpenMP setting it changes the
count every thread that starts later reads, so anything else the process runs meanwhile (data workers,
a logger, a second model) would run with it. The fused path's worker threads instead set their own
OpenMP and MKL thread counts, which are per thread, through the libraries torch itself loaded. Where
that is not possible (another parallel backend or BLAS, another platform) ``single_threaded``
changes nothing and the caller runs its work in the calling thread as it is.

>>> before = torch.get_num_threads()
>>> with single_threaded() as limited:
...     inside = torch.get_num_threads()
>>> inside == (1 if limited else before), torch.get_num_threads() == before
(True, True)
"""

import contextlib
import ctypes
import os
import threading
from typing import Any, Iterator, List, Optional

import torch

_lock = threading.Lock()
_setters: Optional[List[Any]] = None  # ctypes functions


def _load_setters() -> List[Any]:
    """[omp_set_num_threads, MKL's thread-local setter (when torch uses MKL)] or [] when unavailable."""
    if "ATen parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return []
    path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        lib = ctypes.CDLL(path)  # already loaded: the same handle; its OpenMP runtime resolves through it
        setters = [lib.omp_set_num_threads]
        if torch.backends.mkl.is_available():
            setters.append(lib.MKL_Set_Num_Threads_Local)  # the C entry point (int by value)
    except (OSError, AttributeError):
        return []
    for setter in setters:
        setter.argtypes = [ctypes.c_int]
    return setters


def _loaded() -> List[Any]:
    global _setters
    with _lock:
        if _setters is None:
            _setters = _load_setters()
    return _setters


def available() -> bool:
    """Whether a thread's kernels can be limited on their own on this build of torch."""
    return bool(_loaded())


@contextlib.contextmanager
def single_threaded() -> Iterator[bool]:
    """The calling thread's torch kernels single-threaded inside the block, its own counts restored
    after; other threads and the count new threads start with are never touched. Yields False (and
    changes nothing) where the thread's counts cannot be set on their own."""
    setters = _loaded()
    if not setters:
        yield False
        return
    omp = torch.get_num_threads()  # also lets torch finish a new thread's first-use setup first
    mkl = [set_local(1) for set_local in setters[1:]]  # returns the thread's previous local count
    setters[0](1)
    try:
        yield True
    finally:
        setters[0](omp)
        for set_local, previous in zip(setters[1:], mkl):
            set_local(previous)
