"""Cross-check with a real peer: torch-mist 0.2.17 reads the same critic's scores to the same MI values."""

import pytest
import torch
from torch_mist.critic import SeparableCritic
from torch_mist.estimators.discriminative.implementations.infonce import InfoNCE
from torch_mist.estimators.discriminative.implementations.js import JS
from torch_mist.estimators.discriminative.implementations.nwj import NWJ
from torch_mist.estimators.discriminative.implementations.smile import SMILE

from rpc_plugins.mi import estimate


def peers(critic):
    # neg_samples=0 / -1 with a separable critic: the whole batch / all off-diagonal pairs, no sampling
    return {
        "infonce": InfoNCE(critic, neg_samples=0),
        "nwj": NWJ(critic, neg_samples=-1),
        "js": JS(critic, neg_samples=-1),
        "smile": SMILE(critic, neg_samples=-1, tau=5.0),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])
def test_same_scores_same_estimates(seed, scale):
    torch.manual_seed(seed)
    f_x = torch.nn.Linear(6, 4, bias=False).double()
    f_y = torch.nn.Linear(6, 4, bias=False).double()
    x = torch.randn(24, 6, dtype=torch.float64)
    y = scale * x + torch.randn(24, 6, dtype=torch.float64)
    scores = f_x(x) @ f_y(y).t()  # scores[i, j] = f(x_i, y_j): what rpc_plugins.mi reads
    for name, peer in peers(SeparableCritic(f_x, f_y)).items():
        with torch.no_grad():
            theirs = peer.log_ratio(x, y).mean()
        torch.testing.assert_close(estimate(name, scores.detach()), theirs, rtol=1e-10, atol=1e-10, msg=name)
