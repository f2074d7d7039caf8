"""Per-sample image augmentations as tensor ops on the data's device (no per-image Python loop).

SimCLR-style views (Chen et al. 2020) for small grey images: random resized crop + flip through an
affine grid, brightness/contrast jitter, Gaussian noise and a random erased square.

>>> import torch
>>> x = torch.rand(4, 1, 28, 28)
>>> augment(x, torch.Generator().manual_seed(0)).shape
torch.Size([4, 1, 28, 28])
"""


def augment(x, generator, min_scale=0.5):
    """Random resized crop (area ``min_scale``-1) + flip, jitter, noise, erasing; ``x`` (n, c, h, w)."""
    import torch
    import torch.nn.functional as F

    n, device = x.shape[0], x.device

    def rand(*shape):
        return torch.rand(*shape, generator=generator, device=device)

    scale = min_scale + (1 - min_scale) * rand(n)
    side = scale.sqrt()
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0)
    tx, ty = (1 - side) * (2 * rand(n) - 1), (1 - side) * (2 * rand(n) - 1)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = side * flip, side, tx, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    x = x * (0.6 + 0.8 * rand(n, 1, 1, 1)) + 0.2 * (rand(n, 1, 1, 1) - 0.5)
    x = x + 0.05 * torch.randn(x.shape, generator=generator, device=device)
    h = x.shape[-1]
    yy, xx = torch.arange(h, device=device).view(1, h, 1), torch.arange(h, device=device).view(1, 1, h)
    cy, cx = (rand(n) * h).view(n, 1, 1), (rand(n) * h).view(n, 1, 1)
    erase = ((yy - cy).abs() < h / 6) & ((xx - cx).abs() < h / 6) & (rand(n, 1, 1) < 0.5)
    return x.masked_fill(erase[:, None], 0.0)
