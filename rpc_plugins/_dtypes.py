"""Precision policy: low-precision inputs are accumulated in float32.

fp16/bf16 scores or embeddings are upcast to float32 before any sum of scores or squared scores
(a sum of thousands of squared bf16 values loses every digit), so losses and moments come back as
float32; float32 and float64 inputs keep their dtype.
"""

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
