"""skmixsynth: scikit-learn-compatible synthesizers for mixed-type tabular data."""

from ._layout import Layout, Span
from .base import BaseSynthesizer, load
from .encoding import MixedTypeEncoder
from .independent import IndependentSynthesizer
from .mixgan import MixGANSynthesizer

__version__ = "0.1.0.dev0"

__all__ = [
    "BaseSynthesizer",
    "IndependentSynthesizer",
    "Layout",
    "MixGANSynthesizer",
    "MixedTypeEncoder",
    "Span",
    "__version__",
    "load",
]
