"""A lightly SimCLR-style model on any backbone that exposes ``num_features`` (e.g. timm's)."""

from torch import Tensor, nn


class SimCLRModel(nn.Module):
    """backbone -> lightly ``SimCLRProjectionHead(num_features, hidden_dim, output_dim)``.

    Works with ``timm.create_model(name, pretrained=False, num_classes=0)`` (pooled features of width
    ``backbone.num_features``) or any module with that attribute (or pass ``num_features``).

    >>> import torch
    >>> backbone = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32))
    >>> SimCLRModel(backbone, num_features=32, output_dim=16)(torch.randn(4, 1, 8, 8)).shape
    torch.Size([4, 16])
    """

    def __init__(self, backbone: nn.Module, num_features: int = 0, hidden_dim: int = 512, output_dim: int = 128):
        super().__init__()
        from lightly.models.modules import SimCLRProjectionHead

        width = num_features or getattr(backbone, "num_features", 0)
        if not width:
            raise ValueError("backbone has no `num_features`; pass num_features= explicitly")
        self.backbone = backbone
        self.projection_head = SimCLRProjectionHead(width, hidden_dim, output_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.projection_head(self.backbone(x).flatten(start_dim=1))
