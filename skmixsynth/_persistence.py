"""``save`` and ``load`` of synthesizers: torch state dicts and JSON, no pickled code.

A model file is ``torch.save`` of a dict with four keys: ``format`` (``"skmixsynth"``),
``format_version``, ``config`` (a JSON string: class name, parameters, encoder state, history,
the seed of the sampling stream, the device) and ``state`` (the modules' state dict, CPU
tensors). It loads with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from .encoding import MixedTypeEncoder
from .nn._core import resolve_device

__all__ = ["load_model", "save_model"]

FORMAT = "skmixsynth"
FORMAT_VERSION = 1


def save_model(model, path):
    """Write the fitted ``model`` to ``path`` (see :meth:`BaseSynthesizer.save`)."""
    params = {}
    for key, value in model.get_params(deep=False).items():
        if key == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a RandomState instance cannot be stored as JSON
        elif key == "device":
            value = str(value)
        elif isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, tuple):
            value = list(value)
        params[key] = value
    config = {
        "class": type(model).__name__,
        "params": params,
        "encoder": model.encoder_.get_state(),
        "history": model.history_,
        "n_iter": model.n_iter_,
        "sample_seed": int(model._sample_seed),
        "device": str(model.device_),
    }
    state = {k: v.detach().to("cpu") for k, v in model.modules_.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(config),
        "state": state,
    }
    torch.save(payload, path)
    return path


def load_model(cls, path, *, device=None):
    """Read a model written by :func:`save_model` (see :meth:`BaseSynthesizer.load`)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path!s} is not a skmixsynth model file.")
    if payload["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{path!s} was written by a newer skmixsynth (format "
            f"{payload['format_version']}); upgrade skmixsynth to read it."
        )
    config = json.loads(payload["config"])
    klass = registry(cls).get(config["class"])
    if klass is None or not issubclass(klass, cls):
        raise ValueError(
            f"{path!s} holds a {config['class']}, which is not a {cls.__name__}."
        )
    est = klass(**config["params"])
    if device is not None:
        est.set_params(device=device)
    est.device_ = resolve_device(est.device, fallback_to_cpu=device is None)
    est._set_encoder(MixedTypeEncoder.from_state(config["encoder"]))
    modules = est._make_modules(0)  # the weights come from the file
    modules.load_state_dict(payload["state"])
    est.modules_ = modules
    est.history_ = config["history"]
    est.n_iter_ = config["n_iter"]
    est._sample_seed = config["sample_seed"]
    est._on_fit_end()
    return est


def registry(base):
    """``{class name: class}`` of ``base`` and every subclass of it, however deep."""
    found, todo = {base.__name__: base}, [base]
    while todo:
        klass = todo.pop()
        for sub in klass.__subclasses__():
            found[sub.__name__] = sub
            todo.append(sub)
    return found
