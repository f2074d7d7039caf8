"""A float64 dense reference for RPC on the two-view (SimCLR 2N) layout, in blocks of score rows.

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275, eq. 2): with x = [u; v] the
2N (optionally L2-normalised) views and f(x_i, x_j) = <x_i, x_j> / T,

    loss = -(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2])

where P holds the 2N pairs (x_i, partner(i)), partner(i) = i + N mod 2N, and Q every other pair
(i, j), j != i, j != partner(i), plus every anchor against each extra negative (a memory bank),
normalised by their counts 2N and 2N(2N - 2) + 2N M. This module builds the score matrix
explicitly, ``block`` anchor rows at a time in float64, masks self and partner columns (no
subtraction trick, unlike the fused path it checks), and gets the input gradients by autograd
through each block: exact to float64 round-off and O(N^2 D) work, so N = 65536 fits a GPU.

>>> import torch, rpc_plugins
>>> a, b = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
>>> loss, ga, gb = rpc_loss_and_grads(a, b, block=5)
>>> bool(torch.isclose(loss, rpc_plugins.RPCLoss(method="dense")(a, b), rtol=1e-12))
True
"""

import torch
import torch.nn.functional as F

EXACT = torch.float64


def default_block(rows, device_type):
    """Anchor rows per block: score blocks of at most 2^29 float64 entries on a GPU (4 GiB), 2^22 on the CPU."""
    cap = 2**29 if device_type == "cuda" else 2**22
    return max(1, min(rows, cap // max(rows, 1)))


def rpc_loss_and_grads(
    out0, out1, negatives=None, alpha=0.3, beta=0.01, gamma=0.1, temperature=0.1, normalize=True, block=None
):
    """(loss, d loss / d out0, d loss / d out1), all float64, from the values of ``out0, out1`` (any dtype).

    ``negatives`` (M, D) are extra negatives for every anchor (no gradient, like a memory bank).
    """
    a = out0.detach().to(EXACT).requires_grad_(True)
    b = out1.detach().to(EXACT).requires_grad_(True)
    with torch.enable_grad():
        z = torch.cat([F.normalize(a, dim=1), F.normalize(b, dim=1)]) if normalize else torch.cat([a, b])
    leaf = z.detach().requires_grad_(True)
    q = None
    if negatives is not None and negatives.shape[0] > 0:
        q = negatives.detach().to(EXACT)
        q = F.normalize(q, dim=1) if normalize else q
    rows, n = z.shape[0], z.shape[0] // 2
    pos_count = rows
    neg_count = rows * (rows - 2) + (rows * q.shape[0] if q is not None else 0)
    block = block or default_block(rows, z.device.type)
    total = torch.zeros((), dtype=EXACT, device=z.device)
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        anchors = torch.arange(start, stop, device=z.device)
        local = torch.arange(stop - start, device=z.device)
        partner = (anchors + n) % rows
        scores = leaf[start:stop] @ leaf.t() / temperature  # (block, 2N)
        pos = scores[local, partner]
        negative = torch.ones_like(scores, dtype=torch.bool)
        negative[local, anchors] = False
        negative[local, partner] = False
        neg = torch.where(negative, scores, torch.zeros_like(scores))
        part = -(
            pos.sum() / pos_count
            - beta / 2 * (pos * pos).sum() / pos_count
            - alpha * neg.sum() / neg_count
            - gamma / 2 * (neg * neg).sum() / neg_count
        )
        if q is not None:
            bank = leaf[start:stop] @ q.t() / temperature
            part = part + (alpha * bank.sum() + gamma / 2 * (bank * bank).sum()) / neg_count
        part.backward()
        total = total + part.detach()
    torch.autograd.backward(z, leaf.grad)
    return total, a.grad, b.grad


def relative_error(got, want):
    """||got - want|| / ||want|| in float64 (max-abs-free: one number per tensor)."""
    got, want = got.detach().to(EXACT), want.detach().to(EXACT)
    return float((got - want).norm() / want.norm().clamp_min(1e-300))
