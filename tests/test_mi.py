"""MI estimation: closed form of the Gaussian task, estimators vs loop references, a short training run."""

import math

import pytest
import torch

from rpc_plugins.mi import (
    ConcatCritic,
    SeparableCritic,
    estimate,
    gaussian,
    rpc_estimate,
    rpc_log_ratio,
    rpc_ratio,
    rpc_score_from_log_ratio,
    train_critic,
)


def test_gaussian_closed_form():
    for mi in (0.5, 2.0, 10.0):
        rho = gaussian.rho_for_mi(mi, dim=20)
        assert abs(gaussian.gaussian_mi(rho, dim=20) - mi) < 1e-12
    # per-dimension MI of a bivariate Gaussian: -1/2 log(1 - rho^2)
    assert abs(gaussian.gaussian_mi(0.6, dim=1) + 0.5 * math.log(1 - 0.36)) < 1e-15
    x, y = gaussian.sample(20000, 4.0, dim=20, generator=torch.Generator().manual_seed(0))
    empirical_rho = float((x * y).mean() / (x.std() * y.std()))
    assert abs(empirical_rho - gaussian.rho_for_mi(4.0)) < 0.01


def test_log_ratio_matches_the_densities():
    """gaussian.log_ratio against log p(x, y) - log p(x) - log p(y) from torch.distributions, every pair."""
    dim, mi = 3, 1.5
    rho = gaussian.rho_for_mi(mi, dim)
    x, y = gaussian.sample(5, mi, dim=dim, generator=torch.Generator().manual_seed(2))
    x, y = x.double(), y.double()
    cov = torch.eye(2 * dim, dtype=torch.float64)
    cov[:dim, dim:] = cov[dim:, :dim] = rho * torch.eye(dim, dtype=torch.float64)
    joint = torch.distributions.MultivariateNormal(torch.zeros(2 * dim, dtype=torch.float64), cov)
    marg = torch.distributions.MultivariateNormal(
        torch.zeros(dim, dtype=torch.float64), torch.eye(dim, dtype=torch.float64)
    )
    want = torch.tensor(
        [
            [
                float(joint.log_prob(torch.cat([x[i], y[j]])) - marg.log_prob(x[i]) - marg.log_prob(y[j]))
                for j in range(5)
            ]
            for i in range(5)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(gaussian.log_ratio(x, y, mi, dim=dim), want, rtol=1e-10, atol=1e-10)
    # the cubic task's ratio is the Gaussian one at the cube root (an invertible map)
    torch.testing.assert_close(gaussian.log_ratio(x, y**3, mi, dim=dim, cubic=True), want, rtol=1e-8, atol=1e-8)


def scores_matrix(b=6, seed=0):
    return torch.randn(b, b, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2


def loop_estimates(s, alpha=1.0, beta=1e-4, gamma=1.0, clip=5.0, eps=1e-6):
    b = s.shape[0]
    pos = [float(s[i, i]) for i in range(b)]
    neg = [float(s[i, j]) for i in range(b) for j in range(b) if i != j]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    ratio = lambda f: (gamma * f + alpha) / (1 - beta * f)  # noqa: E731

    def log_r(f):  # f clamped to the optimal critic's range [-alpha/gamma, 1/beta], then each log's argument to >= eps
        f = max(min(f, 1 / beta), -alpha / gamma)
        return math.log(max(gamma * f + alpha, eps)) - math.log(max(1 - beta * f, eps))

    e_p = mean([log_r(v) for v in pos])
    return {
        "infonce": math.log(b)
        + mean([s[i, i].item() - math.log(sum(math.exp(s[i, j].item()) for j in range(b))) for i in range(b)]),
        "nwj": mean(pos) - math.exp(-1) * mean([math.exp(v) for v in neg]),
        "dv": mean(pos) - math.log(mean([math.exp(v) for v in neg])),
        "js": 1 + mean(pos) - mean([math.exp(v) for v in neg]),
        "smile": mean(pos) - math.log(mean([min(max(math.exp(v), math.exp(-clip)), math.exp(clip)) for v in neg])),
        "rpc_batch_mean": math.log(max(ratio(mean(pos)), 1e-4)),
        "rpc_per_sample": e_p,
        "rpc_dv": e_p - math.log(mean([math.exp(log_r(v)) for v in neg])),
        "rpc_dv_clip": e_p
        - math.log(mean([min(max(math.exp(log_r(v)), math.exp(-clip)), math.exp(clip)) for v in neg])),
    }


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("beta", [1e-4, 0.2])
def test_estimators_match_loop_reference(seed, beta):
    s = scores_matrix(seed=seed)  # N(0, 4) scores: with beta = 0.2 some reach the cap 1/beta, many fall below -1
    want = loop_estimates(s, beta=beta)
    for name in ("infonce", "nwj", "dv", "js", "smile"):
        assert abs(float(estimate(name, s)) - want[name]) < 1e-10, name
    for form in ("batch_mean", "per_sample", "dv", "dv_clip"):
        got = float(rpc_estimate(s, alpha=1.0, beta=beta, gamma=1.0, form=form))
        assert abs(got - want[f"rpc_{form}"]) < 1e-10, form
    assert float(estimate("rpc", s, alpha=1.0, beta=beta, gamma=1.0)) == pytest.approx(
        want["rpc_per_sample"], abs=1e-10
    )


def test_rpc_readouts_on_an_exact_ratio():
    """Scores that are the optimal critic of a known ratio: per_sample returns E_P[log r] exactly, batch_mean log r(E_P f)."""
    log_r = torch.tensor([[3.0, -2.0, -4.0], [-1.0, 5.0, -3.0], [-2.5, -0.5, 0.5]], dtype=torch.float64)
    alpha, beta, gamma = 1.0, 1e-4, 1.0
    f = rpc_score_from_log_ratio(log_r, alpha, beta, gamma)
    assert float(rpc_estimate(f, alpha, beta, gamma)) == pytest.approx(float(log_r.diagonal().mean()), abs=1e-9)
    f_bar = float(f.diagonal().mean())
    want = math.log((gamma * f_bar + alpha) / (1 - beta * f_bar))
    assert float(rpc_estimate(f, alpha, beta, gamma, form="batch_mean")) == pytest.approx(want, abs=1e-9)
    off = [float(log_r[i, j]) for i in range(3) for j in range(3) if i != j]
    want_dv = float(log_r.diagonal().mean()) - math.log(sum(math.exp(v) for v in off) / 6)
    assert float(rpc_estimate(f, alpha, beta, gamma, form="dv")) == pytest.approx(want_dv, abs=1e-9)


def test_rpc_log_ratio_never_nan():
    f = torch.tensor([-1e6, -1.0, -0.5, 0.0, 9999.0, 1e4, 1e9])
    out = rpc_log_ratio(f, 1.0, 1e-4, 1.0)
    assert torch.isfinite(out).all()
    floor, ceiling = math.log(1e-6) - math.log(1 + 1e-4), math.log(1 + 1e4) - math.log(1e-6)
    assert float(out[0]) == float(out[1]) == pytest.approx(floor)  # at or below -alpha/gamma: the floor
    assert bool((out[1:] >= out[:-1]).all())  # monotone in f: a larger score never reads as a smaller ratio
    assert float(out[-1]) == float(out[-2]) == pytest.approx(ceiling)  # at or above 1/beta: the ceiling


def test_score_from_log_ratio_matches_formula_and_stays_finite():
    u = torch.linspace(-10, 10, 81, dtype=torch.float64)  # r in [e^-10, e^10]: above the readout's floor eps = 1e-6
    for alpha, beta, gamma in ((1.0, 1e-4, 1.0), (0.3, 0.01, 0.1), (0.0, 1e-3, 1.0), (1.0, 0.0, 1.0)):
        naive = (u.exp() - alpha) / (beta * u.exp() + gamma)
        torch.testing.assert_close(rpc_score_from_log_ratio(u, alpha, beta, gamma), naive, rtol=1e-12, atol=1e-12)
        if alpha > 0:  # the ratio the readout recovers is e^u (beta > 0: while f is distinguishable from 1/beta)
            torch.testing.assert_close(
                rpc_log_ratio(rpc_score_from_log_ratio(u, alpha, beta, gamma), alpha, beta, gamma), u, rtol=0, atol=1e-6
            )
    big = torch.tensor([-500.0, -90.0, 0.0, 90.0, 500.0], requires_grad=True)
    f = rpc_score_from_log_ratio(big, 1.0, 1e-4, 1.0)
    f.sum().backward()
    assert torch.isfinite(f).all() and torch.isfinite(big.grad).all()
    assert float(f[0].detach()) == pytest.approx(-1.0) and float(f[-1].detach()) == pytest.approx(1e4)


def test_concat_critic_decomposition_is_exact():
    """The first layer as W_x x + W_y y + b equals the MLP on the concatenated pairs, values and gradients."""
    torch.manual_seed(0)
    c = ConcatCritic(7, 5, hidden=16).double()
    x, y = torch.randn(6, 7, dtype=torch.float64), torch.randn(6, 5, dtype=torch.float64)
    fast, naive = c(x, y), c.naive(x, y)
    torch.testing.assert_close(fast, naive, rtol=1e-12, atol=1e-12)
    for i, j in ((0, 0), (2, 5), (5, 1)):  # and the naive one is the MLP on [x_i, y_j]
        torch.testing.assert_close(naive[i, j], c.net(torch.cat([x[i], y[j]])).squeeze(), rtol=1e-12, atol=1e-12)
    g_fast = torch.autograd.grad((fast**2).sum(), list(c.parameters()))
    g_naive = torch.autograd.grad((c.naive(x, y) ** 2).sum(), list(c.parameters()))
    for a, b in zip(g_fast, g_naive):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_train_critic_stops_on_divergence():
    class Blows(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))
            self.calls = 0

        def forward(self, x, y):
            self.calls += 1
            s = self.w * (x @ y.t())
            return s * float("inf") if self.calls == 3 else s

    g = torch.Generator().manual_seed(0)
    data = iter(lambda: gaussian.sample(8, 1.0, dim=3, generator=g), None)
    trace = train_critic(Blows(), "infonce", data, steps=6)
    assert all(math.isfinite(v) for v in trace["infonce"][:2])
    assert all(math.isnan(v) for v in trace["infonce"][2:])


def test_rpc_ratio_inverts_the_optimal_critic():
    r = torch.tensor([0.1, 1.0, 5.0, 100.0], dtype=torch.float64)
    alpha, beta, gamma = 0.3, 0.01, 0.1
    f_star = (r - alpha) / (beta * r + gamma)
    torch.testing.assert_close(rpc_ratio(f_star, alpha, beta, gamma), r)


def test_bad_inputs():
    with pytest.raises(ValueError, match="square"):
        estimate("dv", torch.randn(3, 4))
    with pytest.raises(ValueError, match="unknown estimator"):
        estimate("mine", torch.randn(3, 3))
    with pytest.raises(ValueError, match="form must be one of"):
        rpc_estimate(torch.randn(3, 3), 1.0, 1e-4, 1.0, form="mean")


def test_critics_shapes():
    x, y = torch.randn(5, 20), torch.randn(5, 20)
    assert SeparableCritic(20, 20, hidden=16, embed=8)(x, y).shape == (5, 5)
    c = ConcatCritic(20, 20, hidden=16)
    s = c(x, y)
    assert s.shape == (5, 5)
    torch.testing.assert_close(s[1, 3], c.net(torch.cat([x[1], y[3]])).squeeze())


def test_short_training_run_lands_near_truth():
    """Seconds-long run at MI = 2 nats: InfoNCE and SMILE within 0.8 nats; RPC's default (per-sample) readout
    positive and below 3 nats (its critic converges more slowly; the benchmark quantifies how far it gets)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    data = iter(lambda: gaussian.sample(128, 2.0, generator=g), None)
    for name, band in (("infonce", 0.8), ("smile", 0.8)):
        trace = train_critic(SeparableCritic(20, 20, hidden=128, embed=16), name, data, steps=400)
        tail = sum(trace[name][-100:]) / 100
        assert abs(tail - 2.0) < band, (name, tail)
    trace = train_critic(SeparableCritic(20, 20, hidden=128, embed=16), "rpc", data, steps=400)
    tail = sum(trace["rpc"][-100:]) / 100
    assert 0.3 < tail < 3.0, tail
