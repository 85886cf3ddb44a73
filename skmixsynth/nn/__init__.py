"""Pure torch building blocks: modules and losses read the encoder's layout.

No pandas and no scikit-learn here: modules take tensors and a :class:`~skmixsynth.Layout`.
"""

from ._core import (
    ColumnBatches,
    FoldedMLP,
    TensorBatches,
    fast_hidden_dtype,
    init_parameters_,
    resolve_device,
    seeded_build,
    seeded_generator,
)
from ._gtcoder import (
    FeatureTokenizer,
    FusionEncoder,
    GTCoder,
    GTCoderDecoder,
    LatentGaussianMixture,
    MixturePrior,
    PreNormBlock,
)
from ._heads import MixedOutput, gumbel_noise, mixed_reconstruction_loss
from ._independent import Marginals
from ._mixgan import MixGANDecoder, MixGANDiscriminator, MixGANEncoder, MixGANGenerator
from ._mixture import HierarchicalMixture

__all__ = [
    "ColumnBatches",
    "FeatureTokenizer",
    "FoldedMLP",
    "FusionEncoder",
    "GTCoder",
    "GTCoderDecoder",
    "HierarchicalMixture",
    "LatentGaussianMixture",
    "Marginals",
    "MixGANDecoder",
    "MixGANDiscriminator",
    "MixGANEncoder",
    "MixGANGenerator",
    "MixedOutput",
    "MixturePrior",
    "PreNormBlock",
    "TensorBatches",
    "fast_hidden_dtype",
    "gumbel_noise",
    "init_parameters_",
    "mixed_reconstruction_loss",
    "resolve_device",
    "seeded_build",
    "seeded_generator",
]
