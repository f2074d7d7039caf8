"""Encoders for 28x28 grey images and SimCLR's projection head.

``SmallCNN`` is the benchmark's default 4-layer CNN; any timm model comes through ``rpc_timm`` with a
small-input stem (e.g. ResNet-18 without the 7x7 stride-2 stem and max-pool). The head has the layout
of lightly's ``SimCLRProjectionHead`` (Chen et al. 2020): Linear-BN-ReLU-Linear.

>>> import torch
>>> backbone, head = build_model("cnn")
>>> head(backbone(torch.rand(2, 1, 28, 28))).shape, backbone.num_features
(torch.Size([2, 64]), 128)
"""

from torch import nn


class SmallCNN(nn.Module):
    """A 4-layer CNN for 28x28 grey images; ``num_features`` wide pooled output (timm convention)."""

    def __init__(self, width=32):
        super().__init__()
        c = [1, width, 2 * width, 4 * width, 4 * width]
        layers = []
        for i, stride in enumerate([1, 2, 2, 1]):
            layers += [
                nn.Conv2d(c[i], c[i + 1], 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(c[i + 1]),
                nn.ReLU(inplace=True),
            ]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features = c[-1]

    def forward(self, x):
        return self.features(x)


def build_backbone(name):
    """'cnn' (``SmallCNN``) or a timm model name (via ``rpc_timm``, one input channel, small-input stem)."""
    if name == "cnn":
        return SmallCNN()
    import rpc_timm

    return rpc_timm.create_backbone(name, in_chans=1, small_input=True)


def build_model(backbone_name, proj_dim=64, hidden=256):
    """(backbone, projection head); the head maps ``num_features`` -> ``hidden`` -> ``proj_dim``."""
    backbone = build_backbone(backbone_name)
    width = backbone.num_features
    head = nn.Sequential(
        nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, proj_dim)
    )
    return backbone, head
