"""Frozen-feature probes: a linear classifier and a k-nearest-neighbour vote on fixed features.

The standard evaluation of self-supervised encoders (e.g. Chen et al. 2020 for the linear probe,
Wu et al. 2018 for the temperature-weighted kNN vote). Two implementations, same definitions:
- torch (``linear_top1``, ``knn_top1``, ``probe_features``): full-batch L-BFGS logistic regression on
  standardised features, cosine kNN with exp(sim / 0.07) weights; runs on the features' device;
- numpy / scikit-learn (``sklearn_linear``, ``sklearn_knn``): for the fairseq and solo environments.

>>> import torch
>>> f = torch.eye(4).repeat(5, 1); y = torch.arange(4).repeat(5)
>>> linear_top1(f, y, f, y), knn_top1(f, y, f, y, k=3)
(1.0, 1.0)
>>> few_label_top1(f, y, f, y, per_class=2, subsets=2)
1.0
>>> import numpy as np
>>> sklearn_linear(np.eye(3).repeat(4, 0), np.arange(3).repeat(4), np.eye(3), np.arange(3))
1.0
"""


def embed(backbone, x, device, batch=1024, bf16=False):
    """Frozen features of ``x`` (eval mode, no grad; bfloat16 autocast if ``bf16``), float32 on ``device``."""
    import torch

    from benchmarks.harness.precision import mixed_precision

    backbone.eval()
    with torch.no_grad(), mixed_precision(device, bf16):
        return torch.cat([backbone(x[i : i + batch].to(device)).float() for i in range(0, len(x), batch)])


def knn_top1(f_train, y_train, f_test, y_test, k=20, temperature=0.07):
    """Top-1 of a cosine kNN whose neighbours vote with weight exp(similarity / temperature)."""
    import torch
    import torch.nn.functional as F

    f_train, f_test = F.normalize(f_train, dim=1), F.normalize(f_test, dim=1)
    classes = int(max(y_train.max().item(), y_test.max().item())) + 1
    k = min(k, len(f_train))
    correct = 0
    for i in range(0, len(f_test), 1024):
        sim = f_test[i : i + 1024] @ f_train.t()
        w, nn_idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(nn_idx), classes, device=f_train.device)
        votes.scatter_add_(1, y_train[nn_idx], (w / temperature).exp())
        correct += (votes.argmax(1) == y_test[i : i + 1024]).sum().item()
    return correct / len(f_test)


def linear_top1(f_train, y_train, f_test, y_test, max_iter=100, weight_decay=1e-4, seed=0):
    """Multinomial logistic regression on standardised frozen features (full-batch L-BFGS)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    mean, std = f_train.mean(0), f_train.std(0) + 1e-6
    a, b = (f_train - mean) / std, (f_test - mean) / std
    classes = int(max(y_train.max().item(), y_test.max().item())) + 1
    clf = torch.nn.Linear(a.shape[1], classes).to(a.device)
    opt = torch.optim.LBFGS(clf.parameters(), lr=1, max_iter=max_iter, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(clf(a), y_train) + weight_decay * clf.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        return (clf(b).argmax(1) == y_test).float().mean().item()


def few_label_indices(y, per_class, seed):
    """``per_class`` indices of every class of ``y``, drawn without replacement with a seeded generator."""
    import torch

    g = torch.Generator().manual_seed(seed)
    y = y.cpu()
    picks = []
    for c in torch.unique(y):
        members = (y == c).nonzero().flatten()
        if len(members) < per_class:
            raise ValueError(f"class {int(c)} has {len(members)} examples, fewer than per_class={per_class}")
        picks.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    return torch.cat(picks)


def few_label_top1(f_train, y_train, f_test, y_test, per_class, subsets=5):
    """Mean linear-probe top-1 over ``subsets`` class-balanced draws of ``per_class`` labelled training
    examples (the semi-supervised protocol of SimCLR, Chen et al. 2020, Sec. 6: few labels, frozen features)."""
    scores = []
    for s in range(subsets):
        idx = few_label_indices(y_train, per_class, seed=s).to(f_train.device)
        scores.append(linear_top1(f_train[idx], y_train[idx], f_test, y_test, seed=s))
    return sum(scores) / len(scores)


def nan_scores(few_labels=0):
    """The scores of an encoder that cannot be probed (non-finite features, or a diverged run)."""
    out = dict(linear=float("nan"), knn=float("nan"), spread=0.0)
    return dict(out, linear_few=float("nan")) if few_labels else out


def probe_features(f_train, y_train, f_test, y_test, seed=0, few_labels=0):
    """{"linear", "knn", "spread"} on features (+ "linear_few" when ``few_labels`` per class > 0); NaN
    probes when a feature is not finite.

    ``spread`` is the mean per-dimension std of the L2-normalised training features (about 0 when every
    input maps to one point: a collapsed encoder)."""
    import torch
    import torch.nn.functional as F

    if not (torch.isfinite(f_train).all() and torch.isfinite(f_test).all()):
        return nan_scores(few_labels)
    spread = F.normalize(f_train, dim=1).std(0).mean().item()
    y_train, y_test = y_train.to(f_train.device), y_test.to(f_train.device)
    out = dict(
        linear=linear_top1(f_train, y_train, f_test, y_test, seed=seed),
        knn=knn_top1(f_train, y_train, f_test, y_test),
        spread=spread,
    )
    if few_labels:
        out["linear_few"] = few_label_top1(f_train, y_train, f_test, y_test, few_labels)
    return out


def probe_encoder(encoder, split, device, seed=0, few_labels=0, bf16=False):
    """``probe_features`` on ``encoder``'s frozen features of a (x_fit, y_fit, x_eval, y_eval) split;
    ``encoder`` None probes the raw inputs, flattened (the raw-pixels baseline)."""
    x_tr, y_tr, x_te, y_te = split
    if encoder is None:
        f_tr, f_te = x_tr.flatten(1).to(device).float(), x_te.flatten(1).to(device).float()
    else:
        f_tr, f_te = embed(encoder, x_tr, device, bf16=bf16), embed(encoder, x_te, device, bf16=bf16)
    return probe_features(f_tr, y_tr, f_te, y_te, seed=seed, few_labels=few_labels)


def sklearn_linear(x_train, y_train, x_test, y_test, max_iter=1000):
    """Held-out accuracy of scikit-learn's LogisticRegression on standardised features (numpy arrays)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    clf = LogisticRegression(max_iter=max_iter).fit(scaler.transform(x_train), y_train)
    return float(np.mean(clf.predict(scaler.transform(x_test)) == y_test))


def sklearn_knn(x_train, y_train, x_test, y_test, k=20):
    """Held-out accuracy of an unweighted cosine k-NN (scikit-learn) on L2-normalised features."""
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    def norm(x):
        return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)

    clf = KNeighborsClassifier(n_neighbors=min(k, len(x_train)), metric="cosine").fit(norm(x_train), y_train)
    return float(clf.score(norm(x_test), y_test))
