"""``save`` and ``load`` of synthesizers: torch state dicts and JSON, no pickled code.

A model file is ``torch.save`` of a dict with four keys: ``format`` (``"skmixsynth"``),
``format_version``, ``config`` (a JSON string: class name, parameters, encoder state, history,
the seed of the sampling stream, the device) and ``state`` (the modules' state dict, CPU
tensors). It loads with ``torch.load(..., weights_only=True)``.

Parameters are stored as JSON with two tags, so that they come back as they were given:
``{"__tuple__": [...]}`` for a tuple and ``{"__ndarray__": [...], "dtype": "<U6"}`` for a
numpy array (a ``categorical_columns`` taken from ``df.columns.values``, say). Format 1 (no
tags, tuples stored as lists) is still read.
"""

from __future__ import annotations

import inspect
import json
import numbers
import warnings

import numpy as np
import torch

from .encoding import MixedTypeEncoder
from .nn._core import resolve_device

__all__ = ["load_model", "save_model"]

FORMAT = "skmixsynth"
FORMAT_VERSION = 2
_CONFIG_KEYS = {"class": str, "params": dict, "encoder": dict, "history": list,
                "n_iter": int, "sample_seed": int, "device": str}


def save_model(model, path):
    """Write the fitted ``model`` to ``path`` (see :meth:`BaseSynthesizer.save`)."""
    params = {}
    for key, value in model.get_params(deep=False).items():
        if key == "random_state" and not (value is None or isinstance(value, numbers.Integral)):
            value = None  # a RandomState instance cannot be stored as JSON
        params[key] = _to_json(value, key)
    config = {
        "class": type(model).__name__,
        "params": params,
        "encoder": model.encoder_.get_state(),
        "target": list(getattr(model, "target_names_", [])),  # the column fit(X, y) joined
        "history": model.history_,
        "n_iter": model.n_iter_,
        "sample_seed": int(model._sample_seed),
        "device": str(model.device_),
        # sizes chosen from the training table's size (BaseSynthesizer._resolve_data_params)
        "data_params": {k: _to_json(getattr(model, k), k) for k in model._data_params},
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
    """Read a model written by :func:`save_model` (see :meth:`BaseSynthesizer.load`).

    Anything that is not such a file (text, a truncated file, another library's checkpoint,
    a dict without our keys, weights that do not fit the model the file describes) is a
    ``ValueError`` naming ``path``; a missing file is the usual ``FileNotFoundError``.
    """
    payload, config = _read(path)
    klass = registry(cls).get(config["class"])
    if klass is None:
        known = registry(_root(cls))
        if config["class"] in known:
            raise ValueError(
                f"{path!s} holds a {config['class']}, which is not a {cls.__name__}."
            )
        known = sorted(k for k, v in known.items() if not inspect.isabstract(v))
        raise ValueError(f"{path!s} holds a {config['class']!r}, which is not a skmixsynth "
                         f"synthesizer this version knows (it knows {known}).")
    try:
        est = klass(**{k: _from_json(v) for k, v in config["params"].items()})
    except TypeError as exc:
        raise ValueError(f"{path!s}: the stored parameters do not fit {klass.__name__} "
                         f"({exc}).") from exc
    if device is not None:
        est.set_params(device=device)
    est.device_ = resolve_device(est.device, fallback_to_cpu=device is None)
    try:
        encoder = MixedTypeEncoder.from_state(config["encoder"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ValueError(f"{path!s}: its encoder state cannot be read "
                         f"({type(exc).__name__}: {exc}).") from exc
    est.target_names_ = list(config.get("target", []))  # files written before: no target
    est._set_encoder(encoder)
    data_params = config.get("data_params", {})  # files written before: none
    if not isinstance(data_params, dict):
        raise ValueError(f"{path!s}: its data_params are not a JSON object.")
    for name in est._data_params:
        if name in data_params:
            setattr(est, name, _from_json(data_params[name]))
    modules = est._make_modules(0)  # the weights come from the file
    try:
        modules.load_state_dict(payload["state"])
    except RuntimeError as exc:
        raise ValueError(f"{path!s}: its weights do not fit the {klass.__name__} it "
                         f"describes ({_short(exc)}).") from exc
    est.modules_ = modules
    est.history_ = config["history"]
    est.n_iter_ = config["n_iter"]
    est._sample_seed = config["sample_seed"]
    est._on_fit_end()
    return est


def _read(path):
    """The payload and its parsed config, or a ValueError naming ``path``."""
    not_ours = f"{path!s} is not a skmixsynth model file"
    try:
        with warnings.catch_warnings():  # a pickle of another kind is refused below anyway
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as exc:  # pickle, zip and torch errors alike (a cut zip is an OSError)
        raise ValueError(f"{not_ours}: torch.load cannot read it as a weights-only file "
                         f"({type(exc).__name__}: {_short(exc)}).") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{not_ours}.")
    version = payload.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{not_ours}: its format_version is {version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!s} was written by a newer skmixsynth (format {version}); upgrade "
            "skmixsynth to read it."
        )
    try:
        config = json.loads(payload.get("config"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{not_ours}: its config is not JSON ({exc}).") from exc
    if not isinstance(config, dict):
        raise ValueError(f"{not_ours}: its config is not a JSON object.")
    wrong = sorted(k for k, kind in _CONFIG_KEYS.items() if not isinstance(config.get(k), kind))
    if wrong:
        raise ValueError(f"{not_ours}: its config lacks or mistypes {wrong}.")
    state = payload.get("state")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{not_ours}: its 'state' is not a dict of tensors.")
    return payload, config


def _short(exc, limit=200):
    """The message of ``exc`` on one line, at most ``limit`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _to_json(value, name):
    """``value`` as JSON data, tuples and arrays tagged; a TypeError names the parameter."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (numbers.Integral, numbers.Real)):
        return value
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v, name) for v in value]}
    if isinstance(value, list):
        return [_to_json(v, name) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufUO":
        return {"__ndarray__": [_to_json(v, name) for v in value.tolist()],
                "dtype": value.dtype.str}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _to_json(v, name) for k, v in value.items()}
    raise TypeError(f"The parameter {name}={value!r} cannot be saved: save stores parameters "
                    "as JSON (numbers, strings, lists, tuples, arrays, dicts of them).")


def _from_json(value):
    """Inverse of :func:`_to_json`."""
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        if set(value) == {"__ndarray__", "dtype"}:
            return np.asarray([_from_json(v) for v in value["__ndarray__"]],
                              dtype=np.dtype(value["dtype"]))
        return {k: _from_json(v) for k, v in value.items()}
    return value


def _root(cls):
    """The BaseSynthesizer above ``cls`` (the class whose subclasses are synthesizers)."""
    from .base import BaseSynthesizer

    return BaseSynthesizer if issubclass(cls, BaseSynthesizer) else cls


def registry(base):
    """``{class name: class}`` of ``base`` and every subclass of it, however deep."""
    found, todo = {base.__name__: base}, [base]
    while todo:
        klass = todo.pop()
        for sub in klass.__subclasses__():
            found[sub.__name__] = sub
            todo.append(sub)
    return found
