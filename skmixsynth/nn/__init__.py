"""Pure torch building blocks: modules and losses read the encoder's layout.

No pandas and no scikit-learn here: modules take tensors and a :class:`~skmixsynth.Layout`.
"""

from ._core import TensorBatches, init_parameters_, resolve_device, seeded_generator
from ._independent import Marginals

__all__ = [
    "Marginals",
    "TensorBatches",
    "init_parameters_",
    "resolve_device",
    "seeded_generator",
]
