"""What the losses accept: input checks and the precision inputs are accumulated in.

Every check raises ``ValueError`` with a message that names the offending argument, so that a bad
batch never turns silently into a NaN loss. Shapes and dtypes are always checked (no data read);
values (NaN/Inf) under a loss's ``check_finite`` policy, which by default never waits for a device.

Precision: fp16/bf16 scores or embeddings are upcast to float32 before any sum of scores or squared
scores (a sum of thousands of squared bf16 values loses every digit); float32 and float64 keep their dtype.
"""

import contextlib
import dataclasses
from typing import Optional

import torch
from torch import Tensor


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; everything else (fp16, bf16, float32) accumulates in float32.

    >>> accumulation_dtype(torch.bfloat16)
    torch.float32
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


def upcast(x: Tensor) -> Tensor:
    """Return ``x`` in its accumulation dtype (no copy when already there)."""
    return x.to(accumulation_dtype(x.dtype))


def full_precision(device_type: str):
    """A context in which autocast is off for ``device_type`` (a no-op where autocast does not exist, e.g. meta)."""
    if torch.compiler.is_compiling() or torch.amp.is_autocast_available(device_type):  # compiled: a real device
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def known_value(count) -> Optional[float]:
    """A count's value when reading it costs no device synchronisation (a Python number, or a CPU tensor
    outside ``torch.compile``); None otherwise."""
    if isinstance(count, Tensor):
        return float(count) if count.device.type == "cpu" and not torch.compiler.is_compiling() else None
    return float(count)


_KNOB_CHECKS = {
    "nonnegative": lambda v: v >= 0,
    "positive": lambda v: v > 1e-8,
    "positive or None": lambda v: v > 1e-8,
}


def check_knobs(objective) -> None:
    """Check an objective declaration's knobs against the check each field declares (``knob()``), and
    store numbers as floats; a ValueError names the knob.

    >>> from rpc_plugins.objectives import RPC
    >>> RPC(alpha=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: rpc: alpha must be finite and >= 0 (nonnegative), got -1.0
    """
    for field in dataclasses.fields(objective):
        check, value = field.metadata["check"], getattr(objective, field.name)
        if value is None and check.endswith("or None"):
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{objective.name}: {field.name} must be a real number, got {value!r}")
        bound = ">= 0" if check == "nonnegative" else "> 1e-8"
        if not _KNOB_CHECKS[check](value) or value == float("inf"):
            raise ValueError(f"{objective.name}: {field.name} must be finite and {bound} ({check}), got {value}")
        object.__setattr__(objective, field.name, float(value))


def check_positive(**values: float) -> None:
    """Raise if any named hyperparameter (e.g. temperature) is not a finite number > 1e-8.

    >>> check_positive(temperature=0.5)
    """
    for name, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{name} must be a real number, got {value!r}")
        if not value > 1e-8 or value == float("inf"):
            raise ValueError(f"{name} must be finite and > 1e-8, got {value}")


def check_floating(name: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype, got {x.dtype}")


def check_no_nan(name: str, x: Tensor, allow_neg_inf: bool = False) -> None:
    """Raise on NaN or +inf (and on -inf unless ``allow_neg_inf``: -inf marks a masked negative)."""
    if allow_neg_inf:
        bad = torch.isnan(x) | (x == float("inf"))
        what = "NaN or +Inf"
    else:
        bad = ~torch.isfinite(x)
        what = "NaN or Inf"
    if bool(bad.any()):
        raise ValueError(f"{name} contains {what} values ({int(bad.sum())} of {x.numel()})")


FINITE_CHECKS = ("auto", True, False, "async")


def check_finite_option(check_finite) -> None:
    """Validate a loss's ``check_finite`` argument (see ``finite_check_mode``).

    >>> check_finite_option("auto")
    """
    if not any(check_finite is v or (isinstance(v, str) and check_finite == v) for v in FINITE_CHECKS):
        raise ValueError(f"check_finite must be 'auto', True, False or 'async', got {check_finite!r}")


def finite_check_mode(check_finite, device: torch.device) -> Optional[str]:
    """How to look for NaN/Inf in inputs on ``device``: "sync" (ValueError now), "async" or None.

    * ``"auto"`` (default): "sync" for CPU tensors outside ``torch.compile`` (reading a CPU value
      stalls no device), nothing elsewhere: on an accelerator, NaN/Inf propagate to the loss as in
      the host libraries' own losses, and nothing waits for the device.
    * ``True``: always "sync" (on an accelerator this waits for the device once per call; under
      ``torch.compile`` it breaks the graph).
    * ``"async"``: ``torch._assert_async`` on a small witness tensor: no host wait; a failure is
      reported by the device later (on CUDA a device-side assert, which ends the process's CUDA
      context), as a RuntimeError on the CPU.
    * ``False``: no value checks (shapes and dtypes are always checked).

    >>> finite_check_mode("auto", torch.device("cpu")), finite_check_mode("auto", torch.device("meta"))
    ('sync', None)
    """
    if check_finite is False:
        return None
    if check_finite is True:
        return "sync"
    if check_finite == "async":
        return "async"
    return "sync" if device.type == "cpu" and not torch.compiler.is_compiling() else None


def check_values(check_finite, named: dict, witness: Optional[Tensor] = None) -> None:
    """NaN/Inf check of ``named`` tensors (name -> tensor) under the ``check_finite`` policy.

    ``witness`` is a small tensor that is finite when the inputs are (e.g. their fused statistics);
    by default the inputs' sums. Only when the witness is not finite are the inputs scanned, to name
    the culprit, so the usual cost is one reduction (or nothing, with a witness).
    """
    if check_finite is False or (check_finite == "auto" and torch.compiler.is_compiling()):
        return  # first, before any list of the inputs: torch 2.4-2.11's dynamo then mis-compiles autocast regions
    tensors = [t for t in named.values() if t is not None]
    if not tensors:
        return
    mode = finite_check_mode(check_finite, tensors[0].device)
    if mode is None:
        return
    if witness is None:
        witness = torch.stack([t.sum(dtype=torch.float64) if t.dtype != torch.float64 else t.sum() for t in tensors])
    ok = torch.isfinite(witness).all()
    if mode == "async":
        torch._assert_async(ok)
        return
    if not bool(ok):
        for name, t in named.items():
            if t is not None:
                check_no_nan(name, t)


def check_embeddings(out0: Tensor, out1: Tensor, negatives: Optional[Tensor] = None, check_finite=False) -> None:
    """Validate the two views ``(N, D)`` (and optional extra negatives ``(M, D)``).

    Shapes and dtypes always (no data read); NaN/Inf values under the ``check_finite`` policy
    (``finite_check_mode``; default here: no value check).

    >>> check_embeddings(torch.zeros(4, 3), torch.zeros(4, 3))
    """
    check_floating("out0", out0)
    check_floating("out1", out1)
    if out0.dim() != 2 or out1.dim() != 2:
        raise ValueError(
            f"out0 and out1 must be 2-D (batch, dim), got shapes {tuple(out0.shape)} and {tuple(out1.shape)}"
        )
    if out0.shape != out1.shape:
        raise ValueError(f"out0 and out1 must have the same shape, got {tuple(out0.shape)} and {tuple(out1.shape)}")
    if out0.shape[0] == 0 or out0.shape[1] == 0:
        raise ValueError(f"out0 and out1 must be non-empty, got shape {tuple(out0.shape)}")
    if negatives is not None:
        check_floating("negatives", negatives)
        if negatives.dim() != 2 or negatives.shape[1] != out0.shape[1]:
            raise ValueError(
                f"negatives must be (M, {out0.shape[1]}) to match out0's dim, got {tuple(negatives.shape)}"
            )
    check_values(check_finite, {"out0": out0, "out1": out1, "negatives": negatives})


def check_scores(
    pos: Tensor, neg: Tensor, neg_mask: Optional[Tensor], pos_mask: Optional[Tensor] = None, check_finite="auto"
) -> None:
    """Validate per-anchor scores: ``pos (A,)`` (or ``(A, P)`` with ``pos_mask (A, P)`` bool), ``neg (A, K)``,
    ``neg_mask (A, K)`` bool or None; NaN/Inf values under the ``check_finite`` policy."""
    check_floating("pos", pos)
    check_floating("neg", neg)
    if pos_mask is None and pos.dim() != 1:
        raise ValueError(f"pos must be 1-D (anchors,), got shape {tuple(pos.shape)}")
    if pos_mask is not None:
        if pos.dim() != 2:
            raise ValueError(f"pos must be 2-D (anchors, positives) with pos_mask, got shape {tuple(pos.shape)}")
        _check_mask("pos_mask", pos_mask, pos, "pos")
    if neg.dim() != 2 or neg.shape[0] != pos.shape[0]:
        raise ValueError(
            f"neg must be 2-D (anchors, negatives) with {pos.shape[0]} rows to match pos, got {tuple(neg.shape)}"
        )
    if pos.shape[0] == 0:
        raise ValueError("pos is empty: need at least one anchor")
    if neg_mask is not None:
        _check_mask("neg_mask", neg_mask, neg, "neg")
    if finite_check_mode(check_finite, pos.device) == "sync":  # "auto": CPU only, never wait for a device
        check_no_nan("pos", pos)
        check_no_nan("neg", neg, allow_neg_inf=True)


def _check_mask(name: str, mask: Tensor, values: Tensor, values_name: str) -> None:
    if mask.dtype != torch.bool:
        raise ValueError(f"{name} must be a bool tensor, got {mask.dtype}")
    if mask.shape != values.shape:
        raise ValueError(f"{name} shape {tuple(mask.shape)} must equal {values_name} shape {tuple(values.shape)}")


def too_few_negatives(where: str) -> ValueError:
    return ValueError(
        f"{where}: no valid negative pair. A batch needs N >= 2 (or extra negatives from a memory bank "
        "or other ranks) and at least one negative that is not masked/-inf."
    )
