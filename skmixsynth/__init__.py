"""skmixsynth: scikit-learn-compatible synthesizers for mixed-type tabular data."""

from ._arrow import ParquetStream
from ._columns import CategoricalColumn, DatetimeColumn, NumericalColumn
from ._layout import Layout, Span
from .base import BaseSynthesizer, load
from .encoding import MixedTypeEncoder
from .gtcoder import GTCoderSynthesizer
from .independent import IndependentSynthesizer
from .mixgan import MixGANSynthesizer
from .mixture import MixtureSynthesizer

__version__ = "0.1.0.dev0"

__all__ = [
    "BaseSynthesizer",
    "CategoricalColumn",
    "DatetimeColumn",
    "GTCoderSynthesizer",
    "IndependentSynthesizer",
    "Layout",
    "MixGANSynthesizer",
    "MixedTypeEncoder",
    "MixtureSynthesizer",
    "NumericalColumn",
    "ParquetStream",
    "Span",
    "__version__",
    "load",
]
