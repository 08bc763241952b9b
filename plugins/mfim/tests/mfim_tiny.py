"""The tiny MFIM configuration of the tests: a 64 px generator and encoder input."""

TINY = {
    "size": 64,
    "style_dim": 32,
    "n_mlp": 2,
    "generator_channels": {4: 32, 8: 32, 16: 32, 32: 16, 64: 16},
    "input_size": 64,
    "encoder_units": (1, 1, 1, 1),
    "encoder_widths": (16, 16, 16, 32),
    "latent_channels": 32,
}
