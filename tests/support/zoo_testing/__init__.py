"""Test scaffolding shared by tests/ and every plugins/*/tests/ (the root conftest.py puts this
folder on ``sys.path``): where the real face photos are, how a plugin's test tree is wired up,
and the building blocks of the official state-dict layouts. Nothing here imports zoo_core at
import time."""
