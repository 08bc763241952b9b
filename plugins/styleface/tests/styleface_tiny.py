"""The tiny StyleFace configuration of the tests (64 px), shared by the test modules."""

from __future__ import annotations

TINY = {
    "size": 64, "style_dim": 64, "n_mlp": 2, "channels": {4: 32, 8: 32, 16: 32, 32: 16, 64: 16},
    "level_bounds": (8, 16), "identity_depth": 18, "identity_input_size": 32,
}
"""64 px, narrow generator, 2-layer mapping, iresnet18 at 32 px; levels low <= 8 < mid <= 16 < high."""
