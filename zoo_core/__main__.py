"""``python -m zoo_core ...`` (also ``accelerate launch -m zoo_core ...``)."""

from zoo_core.cli import main

if __name__ == "__main__":
    main()
