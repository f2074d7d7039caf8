"""No host synchronisation on the default path; NaN/Inf policy; torch.compile(fullgraph=True).

A tensor on the "meta" device has a shape and no data: any read of a value on the host
(``float(t)``, ``bool(t)``, ``.item()``) raises. RPCLoss forward + backward running on meta
tensors is therefore proof that nothing reads a value back, i.e. no device-to-host sync on a GPU.
``torch.compile(fullgraph=True)`` of a whole training step is a second proof: a host read would
be a graph break, which fullgraph turns into an error.
"""

import math

import pytest
import torch

import rpc_plugins as rp
from rpc_plugins._validation import finite_check_mode

TORCH2 = int(torch.__version__.split(".")[0]) >= 2
needs_torch2 = pytest.mark.skipif(not TORCH2, reason="meta tensors through autograd and torch.compile need torch >= 2")


@needs_torch2
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(method="gram"),
        dict(method="dense"),
        dict(normalize=False),
        dict(method="gram", check_finite="async"),
    ],
)
@pytest.mark.parametrize("extra", [0, 7])
def test_forward_and_backward_read_no_value(kwargs, extra):
    out0 = torch.empty(64, 16, device="meta", requires_grad=True)
    out1 = torch.empty(64, 16, device="meta", requires_grad=True)
    negatives = torch.empty(extra, 16, device="meta") if extra else None
    loss = rp.RPCLoss(**kwargs)(out0, out1, negatives)
    loss.backward()
    assert loss.shape == () and out0.grad.shape == out0.shape


@needs_torch2
def test_forward_reads_no_value_for_the_peers():
    out0 = torch.empty(32, 8, device="meta", requires_grad=True)
    out1 = torch.empty(32, 8, device="meta", requires_grad=True)
    loss = rp.ContrastiveLoss("infonce", check_finite=False).queue_loss(out0, out1, torch.empty(40, 8, device="meta"))
    assert loss.shape == ()
    rp.ContrastiveLoss("rpc").queue_loss(out0, out1, torch.empty(40, 8, device="meta")).backward()


def nan_views():
    out0, out1 = torch.randn(16, 8), torch.randn(16, 8)
    out1[3, 1] = float("nan")
    return out0, out1


@pytest.mark.parametrize("method", ["dense", "gram"])
def test_default_check_on_cpu_names_the_input(method):
    with pytest.raises(ValueError, match="out1 contains NaN"):
        rp.RPCLoss(method=method)(*nan_views())
    out0, out1 = torch.randn(16, 8), torch.randn(16, 8)
    negatives = torch.randn(5, 8)
    negatives[0, 0] = float("inf")
    with pytest.raises(ValueError, match="negatives contains NaN or Inf"):
        rp.RPCLoss(method=method)(out0, out1, negatives)


def test_check_finite_false_lets_nan_through():
    assert math.isnan(float(rp.RPCLoss(method="gram", check_finite=False)(*nan_views())))


@pytest.mark.skipif(not hasattr(torch, "_assert_async"), reason="torch._assert_async needs torch >= 1.10")
def test_check_finite_async_raises_on_cpu():
    with pytest.raises(RuntimeError):
        rp.RPCLoss(method="gram", check_finite="async")(*nan_views())
    assert torch.isfinite(rp.RPCLoss(method="gram", check_finite="async")(torch.randn(8, 4), torch.randn(8, 4)))


def test_accelerator_policy_reads_nothing():
    """ "auto" checks CPU tensors eagerly and leaves every other device alone (no host wait)."""
    assert finite_check_mode("auto", torch.device("cpu")) == "sync"
    assert finite_check_mode("auto", torch.device("cuda", 0)) is None
    assert finite_check_mode(True, torch.device("cuda", 0)) == "sync"
    assert finite_check_mode(False, torch.device("cpu")) is None


def loss_of_batch(model, loss_fn, x0, x1):
    return loss_fn(model(x0), model(x1))


@needs_torch2
@pytest.mark.skipif(not hasattr(torch, "compile"), reason="torch.compile needs torch >= 2")
@pytest.mark.parametrize("method", ["gram", "dense"])
def test_compiled_training_step_equals_eager(method):
    """The model and the loss compile into one graph (fullgraph=True: no break, so no host read);
    AOTAutograd compiles its backward, the fused Function's analytic backward included."""
    torch._dynamo.reset()
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(96, 12, generator=g, dtype=torch.float64)
    x1 = x0 + 0.3 * torch.randn(96, 12, generator=g, dtype=torch.float64)
    results = []
    for compiled in (False, True):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16)).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = rp.RPCLoss(temperature=0.5, method=method)
        forward = torch.compile(loss_of_batch, fullgraph=True) if compiled else loss_of_batch
        losses = []
        for _ in range(3):
            loss = forward(model, loss_fn, x0, x1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        results.append((torch.stack(losses), [p.detach().clone() for p in model.parameters()]))
    (eager_losses, eager_params), (comp_losses, comp_params) = results
    torch.testing.assert_close(comp_losses, eager_losses, rtol=1e-9, atol=1e-12)
    for a, b in zip(comp_params, eager_params):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
