"""``python -m skmixsynth``: the command line (see :mod:`skmixsynth.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
