"""Mixed precision for the benchmarks' encoders: bfloat16 autocast on request, float32 otherwise.

One context for training and embedding, so an encoder is run in the same precision in both; losses,
optimisers and probes stay float32 (the callers cast the encoder's outputs back).

>>> import torch
>>> with mixed_precision("cpu", True):
...     torch.nn.Linear(2, 2)(torch.rand(1, 2)).dtype
torch.bfloat16
>>> with mixed_precision("cpu", False):
...     torch.nn.Linear(2, 2)(torch.rand(1, 2)).dtype
torch.float32
"""


def mixed_precision(device, bf16):
    """bfloat16 autocast on ``device`` when ``bf16``, else a no-op context (torch.autocast needs torch 1.10+)."""
    import contextlib

    import torch

    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
