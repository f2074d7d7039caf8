"""Slow references written straight from the formulas: Python loops over pairs, float64.

They share nothing with the package's vectorised code, so agreement is evidence.
"""

import math

import torch


def _valid_negatives(neg, mask):
    out = []
    for i in range(neg.shape[0]):
        out.append(
            [
                neg[i, k]
                for k in range(neg.shape[1])
                if (mask is None or bool(mask[i, k])) and float(neg[i, k]) != float("-inf")
            ]
        )
    return out


def _mean(values):
    return sum(values) / len(values)


def rpc(pos, neg, mask=None, alpha=0.3, beta=0.01, gamma=0.1):
    negs = [v for row in _valid_negatives(neg, mask) for v in row]
    poss = list(pos)
    j = (
        _mean(poss)
        - alpha * _mean(negs)
        - beta / 2 * _mean([p * p for p in poss])
        - gamma / 2 * _mean([v * v for v in negs])
    )
    return -j


def infonce(pos, neg, mask=None):
    rows = _valid_negatives(neg, mask)
    losses = []
    for p, row in zip(pos, rows):
        denom = torch.exp(p) + sum(torch.exp(v) for v in row)
        losses.append(-torch.log(torch.exp(p) / denom))
    return _mean(losses)


def nwj(pos, neg, mask=None):
    negs = [v for row in _valid_negatives(neg, mask) for v in row]
    return -(_mean(list(pos)) - math.exp(-1) * _mean([torch.exp(v) for v in negs]))


def dv(pos, neg, mask=None):
    negs = [v for row in _valid_negatives(neg, mask) for v in row]
    return -(_mean(list(pos)) - torch.log(_mean([torch.exp(v) for v in negs])))


def js(pos, neg, mask=None):
    negs = [v for row in _valid_negatives(neg, mask) for v in row]
    softplus = lambda x: torch.log1p(torch.exp(x))  # noqa: E731
    return _mean([softplus(-p) for p in pos]) + _mean([softplus(v) for v in negs])


def smile(pos, neg, mask=None, clip=5.0):
    negs = [v for row in _valid_negatives(neg, mask) for v in row]
    clipped = [min(max(torch.exp(v), math.exp(-clip)), math.exp(clip)) for v in negs]
    return -(_mean(list(pos)) - torch.log(_mean(clipped)))


def mio(pos, neg, mask=None):
    # BCEWithLogits(pos, 1) and BCEWithLogits(neg, 0), written with log-sigmoid.
    negs = [v for row in _valid_negatives(neg, mask) for v in row]
    sigmoid = lambda x: 1 / (1 + torch.exp(-x))  # noqa: E731
    return _mean([-torch.log(sigmoid(p)) for p in pos]) + _mean([-torch.log(1 - sigmoid(v)) for v in negs])


OBJECTIVE_REFERENCES = {"rpc": rpc, "infonce": infonce, "nwj": nwj, "dv": dv, "js": js, "smile": smile, "mio": mio}


def two_view_pairs_loop(out0, out1, temperature, normalize, negatives=None):
    """Per anchor: (positive score, [negative scores]) of the authors' SimCLR layout, by loops."""
    a, b = out0.double(), out1.double()
    q = None if negatives is None else negatives.double()
    if normalize:
        a = a / a.norm(dim=1, keepdim=True)
        b = b / b.norm(dim=1, keepdim=True)
        if q is not None:
            q = q / q.norm(dim=1, keepdim=True)
    n = a.shape[0]
    f = lambda x, y: torch.dot(x, y) / temperature  # noqa: E731
    anchors = []
    for view, other in ((a, b), (b, a)):
        for i in range(n):
            negs = [f(view[i], other[j]) for j in range(n) if j != i]
            negs += [f(view[i], view[j]) for j in range(n) if j != i]
            if q is not None:
                negs += [f(view[i], q[m]) for m in range(q.shape[0])]
            anchors.append((f(view[i], other[i]), negs))
    return anchors


def two_view_loss_loop(objective, out0, out1, temperature, normalize, negatives=None, **kw):
    anchors = two_view_pairs_loop(out0, out1, temperature, normalize, negatives)
    width = max(len(negs) for _, negs in anchors)
    pos = torch.stack([p for p, _ in anchors])
    neg = torch.stack([torch.stack(negs) for _, negs in anchors]).reshape(len(anchors), width)
    return OBJECTIVE_REFERENCES[objective](pos, neg, None, **kw)
