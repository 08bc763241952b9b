"""Adaptive Information Integration (paper Sec. 3.3, Eq. 15; official ``AII512`` / ``AII1024``).

Each level normalises the activation h (instance norm), builds the perceptual activation
A = gamma(f~) h + beta(f~) from the decoded features and the identity activation
I = gamma(z) h + beta(z) (AdaIN from the compressed source identity), and mixes them with the
integrator Lambda = sigmoid(conv([h, lambda~])) (T_theta_i: one 1x1 conv with a sigmoid):
h' = Lambda I + (1 - Lambda) A.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from zoo_plugin_infoswap.decoder import upsample

IDENTITY_DIM = 512


class Integration(nn.Module):
    """``AIILayerLambda``: one integration of Eq. 15 at width ``c_h``."""

    def __init__(self, c_h: int, c_attr: int, c_lamb: int, c_id: int = IDENTITY_DIM) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_attr, c_h, 1)
        self.conv2 = nn.Conv2d(c_attr, c_h, 1)
        self.fc1 = nn.Linear(c_id, c_h)
        self.fc2 = nn.Linear(c_id, c_h)
        self.conv_2h = nn.Conv2d(c_h + c_lamb, 1, 1)

    def forward(self, h: torch.Tensor, attr: torch.Tensor, z_id: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        h = F.instance_norm(h)
        mask = torch.sigmoid(self.conv_2h(torch.cat((h, lam), dim=1)))
        perceptual = self.conv1(attr) * h + self.conv2(attr)
        identity = self.fc1(z_id)[:, :, None, None] * h + self.fc2(z_id)[:, :, None, None]
        return (1 - mask) * perceptual + mask * identity


class IntegrationBlock(nn.Module):
    """``AIIResBlkLambda``: two (integration, LeakyReLU 0.01, 3x3 conv) plus a shortcut, which
    gets its own integration and conv when the width changes."""

    def __init__(self, cin: int, cout: int, c_attr: int, c_lamb: int) -> None:
        super().__init__()
        self.AAD1 = Integration(cin, c_attr, c_lamb)
        self.conv1 = nn.Conv2d(cin, cin, 3, 1, 1, bias=False)
        self.AAD2 = Integration(cin, c_attr, c_lamb)
        self.conv2 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        if cin != cout:
            self.AAD3 = Integration(cin, c_attr, c_lamb)
            self.conv3 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.project = cin != cout

    def forward(self, h: torch.Tensor, attr: torch.Tensor, z_id: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        x = self.conv1(F.leaky_relu(self.AAD1(h, attr, z_id, lam), 0.01))
        x = self.conv2(F.leaky_relu(self.AAD2(x, attr, z_id, lam), 0.01))
        if self.project:
            h = self.conv3(F.leaky_relu(self.AAD3(h, attr, z_id, lam), 0.01))
        return x + h


def block_plan(channels: int, high_res: bool) -> list[tuple[str, int, int, int, int]]:
    """(name, c_in, c_out, c_attr, c_lambda) of each level, coarsest first (official names)."""
    c = channels
    plan = [
        ("AADBlk1", c, c, c, c), ("AADBlk2", c, c, 2 * c, c), ("AADBlk3", c, c, c, c // 2),
        ("AADBlk4", c, c // 2, c // 2, c // 4), ("AADBlk5", c // 2, c // 4, c // 4, c // 8),
        ("AADBlk6", c // 4, c // 8, c // 8, c // 16), ("AADBlk7", c // 8, c // 16, c // 16, c // 32),
    ]
    if high_res:
        return plan + [("AADBlk_8", c // 16, c // 16, c // 16, c // 32), ("AADBlk9", c // 16, 3, c // 16, c // 32)]
    return plan + [("AADBlk8", c // 16, 3, c // 16, c // 32)]


class AII(nn.Module):
    """The generator: z~_id -> ``up1`` (2x2) [-> ``up2`` (4x4)], then one integration block per
    decoded level with bilinear x2 between them, tanh output in [-1, 1].

    ``stem_ups``: 2 for the released networks (IR-SE50 on 128 px: first level 4x4), 1 for
    the 64 px test configuration (first level 2x2).
    """

    def __init__(self, channels: int = 1024, high_res: bool = False, stem_ups: int = 2) -> None:
        super().__init__()
        self.up1 = nn.ConvTranspose2d(IDENTITY_DIM, channels, 2, 1, 0)
        if stem_ups == 2:
            self.up2 = nn.ConvTranspose2d(channels, channels, 2, 2, 0)
        self.stem_ups = stem_ups
        self.names = []
        for name, cin, cout, c_attr, c_lamb in block_plan(channels, high_res):
            self.add_module(name, IntegrationBlock(cin, cout, c_attr, c_lamb))
            self.names.append(name)

    def forward(self, z_id: torch.Tensor, attrs: Sequence[torch.Tensor], lambdas: Sequence[torch.Tensor]) -> torch.Tensor:
        h = self.up1(z_id[:, :, None, None])
        if self.stem_ups == 2:
            h = self.up2(h)
        for k, name in enumerate(self.names):
            if k:
                h = upsample(h)
            h = getattr(self, name)(h, attrs[k], z_id, lambdas[k])
        return torch.tanh(h)


def init_weights(module: nn.Module) -> None:
    """The official initialisation (the supplement: "sampled from normal distribution"): Kaiming
    normal for convolutions, N(0, 1e-3) and zero bias for linear layers."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.001)
        nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.kaiming_normal_(module.weight)
