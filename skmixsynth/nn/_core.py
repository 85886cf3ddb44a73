"""Torch plumbing shared by every model: devices, seeded initialisation, batch sources.

Pure torch and numpy: no pandas, no scikit-learn.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn

__all__ = ["TensorBatches", "init_parameters_", "resolve_device", "seeded_generator"]


def resolve_device(device, *, fallback_to_cpu=False):
    """Turn a ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
        ``"auto"`` takes the first CUDA device when one is available, else the CPU.
    fallback_to_cpu : bool, default=False
        When CUDA is asked for but absent: warn and use the CPU (used when loading a model
        saved on a GPU) instead of raising.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        For an unknown device string, or CUDA asked for where there is none.

    Examples
    --------
    >>> from skmixsynth.nn import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device; got {device!r}."
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            msg = (
                f"device={device!r} asks for CUDA, but this torch ({torch.__version__}) sees no "
                "CUDA device. Use device='cpu', or device='auto' to take a GPU only when "
                "there is one."
            )
            if fallback_to_cpu:
                warnings.warn(msg + " Falling back to the CPU.", RuntimeWarning, stacklevel=3)
                return torch.device("cpu")
            raise ValueError(msg)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} asks for CUDA device {dev.index}, but only "
                f"{torch.cuda.device_count()} are visible."
            )
    elif dev.type not in ("cpu", "mps"):
        raise ValueError(f"device type {dev.type!r} is not supported; use 'cpu' or 'cuda'.")
    return dev


def seeded_generator(seed, device):
    """A :class:`torch.Generator` on ``device`` seeded with ``seed`` (no global RNG touched).

    Parameters
    ----------
    seed : int
    device : torch.device

    Returns
    -------
    generator : torch.Generator
    """
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def init_parameters_(module, generator):
    """Re-initialise every Linear layer of ``module`` from ``generator``, in place.

    PyTorch initialises layers from its global RNG; library code must not touch that, so the
    models are built and then re-initialised here with the default scheme of ``nn.Linear``
    (Kaiming-uniform weights, uniform biases) drawn from the fit's own generator. Normalisation
    layers start at ones/zeros and need no randomness.

    Parameters
    ----------
    module : torch.nn.Module
    generator : torch.Generator
        A CPU generator; the values are drawn on the CPU and copied to the module's device.

    Returns
    -------
    module : torch.nn.Module
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            with torch.no_grad():
                w = torch.empty(layer.weight.shape)
                nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
                layer.weight.copy_(w)
                if layer.bias is not None:
                    bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features else 0.0
                    b = torch.empty(layer.bias.shape)
                    nn.init.uniform_(b, -bound, bound, generator=generator)
                    layer.bias.copy_(b)
    return module


class TensorBatches:
    """A batch source over an encoded matrix held as one tensor.

    The training loop only asks a batch source for ``iter_epoch(generator)`` and ``n_rows``;
    a Parquet stream or a DistributedDataParallel shard can stand in for this class later.

    Each epoch draws a permutation from ``generator`` and cuts it into ``ceil(n / batch_size)``
    batches of nearly equal size, so no tiny last batch reaches a batch-norm layer.

    Parameters
    ----------
    data : ndarray or Tensor of shape (n_rows, width)
    batch_size : int
    device : torch.device

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skmixsynth.nn import TensorBatches, seeded_generator
    >>> source = TensorBatches(np.zeros((10, 3), dtype=np.float32), 4, torch.device("cpu"))
    >>> [b.shape[0] for b in source.iter_epoch(seeded_generator(0, torch.device("cpu")))]
    [4, 3, 3]
    """

    def __init__(self, data, batch_size, device):
        self.data = torch.as_tensor(np.asarray(data, dtype=np.float32), device=device)
        self.batch_size = int(batch_size)
        self.device = device

    @property
    def n_rows(self):
        """Number of rows."""
        return self.data.shape[0]

    def iter_epoch(self, generator):
        """Yield the batches of one epoch in an order drawn from ``generator``."""
        n = self.n_rows
        n_batches = max(1, math.ceil(n / self.batch_size))
        perm = torch.randperm(n, generator=generator, device=generator.device)
        if perm.device != self.data.device:
            perm = perm.to(self.data.device)
        for idx in torch.tensor_split(perm, n_batches):
            yield self.data.index_select(0, idx)
