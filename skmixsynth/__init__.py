"""skmixsynth: scikit-learn-compatible synthesizers for mixed-type tabular data."""

from ._layout import Layout, Span
from .encoding import MixedTypeEncoder

__version__ = "0.1.0.dev0"

__all__ = ["Layout", "MixedTypeEncoder", "Span", "__version__"]
