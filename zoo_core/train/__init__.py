"""The training engine: data (identity folders, the papers' pair schedules), the accelerate
loop (phases, accumulation, precision, EMA, checkpoints, resume, logs) and ``zoo prepare-data``."""
