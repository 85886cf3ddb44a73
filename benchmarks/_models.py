"""The models compared, behind one small interface used by the worker.

Every adapter has ``fit(frame)``, ``sample(n_samples, seed)`` and ``effective_params()``.
Imports are lazy: the worker of a peer (CTGAN, TVAE) may run under an interpreter without
skmixsynth's dependencies at their project versions, and ``identity`` needs none at all.
"""

from __future__ import annotations

import inspect

from ._tables import BOOL, CATEGORY, NUMERIC_KINDS, TEXT, columns_of_kind

OURS = {"independent": "IndependentSynthesizer", "mixgan": "MixGANSynthesizer",
        "gtcoder": "GTCoderSynthesizer", "mixture": "MixtureSynthesizer"}
PEERS = {"ctgan": "CTGAN", "tvae": "TVAE"}
MODELS = ("independent", "mixgan", "gtcoder", "mixture", "ctgan", "tvae", "identity")


class ModelUnavailable(RuntimeError):
    """The model cannot be imported here (not written yet, or its package is not installed)."""


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def _as_tuples(params):
    """JSON turns tuples into lists; hyper-parameters such as layer sizes expect tuples."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


class OursAdapter:
    """A skmixsynth synthesizer; ``device="cpu"`` unless the parameters say otherwise."""

    def __init__(self, name, params, seed):
        import skmixsynth

        cls = getattr(skmixsynth, OURS[name], None)
        if cls is None:
            raise ModelUnavailable(f"skmixsynth has no {OURS[name]} yet.")
        kwargs = {"device": "cpu", "random_state": seed, **_as_tuples(params)}
        self.estimator = cls(**kwargs)

    def fit(self, frame):
        self.estimator.fit(frame)

    def sample(self, n_samples, seed):
        return self.estimator.sample(n_samples, random_state=seed)

    def effective_params(self):
        return {k: _jsonable(v) for k, v in self.estimator.get_params().items()}


class PeerAdapter:
    """CTGAN or TVAE of the ``ctgan`` package at its defaults, on the CPU.

    They cannot take missing numerical values (CTGAN refuses them at fit, TVAE crashes at
    sample), so rows with one are dropped from *their* training rows; ``dropped_rows`` says how
    many. Categorical, boolean and text columns are their ``discrete_columns``.
    """

    def __init__(self, name, params, seed, schema):
        try:
            import ctgan
        except ImportError as exc:
            raise ModelUnavailable(f"the ctgan package is not importable: {exc}") from exc
        cls = getattr(ctgan, PEERS[name])
        self.params = {"enable_gpu": False, **_as_tuples(params)}
        self.model = cls(**self.params)
        self.model.set_random_state(seed)
        self.defaults = {
            k: p.default
            for k, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        self.discrete = columns_of_kind(schema, CATEGORY, BOOL, TEXT)
        self.numerical = columns_of_kind(schema, *NUMERIC_KINDS)
        self.dropped_rows = 0

    def fit(self, frame):
        complete = frame.dropna(subset=self.numerical)
        self.dropped_rows = len(frame) - len(complete)
        complete = complete.astype({c: object for c in self.discrete})
        self.model.fit(complete, discrete_columns=self.discrete)

    def sample(self, n_samples, seed):
        return self.model.sample(n_samples)

    def effective_params(self):
        return {k: _jsonable(v) for k, v in {**self.defaults, **self.params}.items()}


class IdentityAdapter:
    """The real training rows themselves: the ceiling of every fidelity and utility metric."""

    def __init__(self, params, seed):
        self.frame = None

    def fit(self, frame):
        self.frame = frame

    def sample(self, n_samples, seed):
        if n_samples == len(self.frame):
            return self.frame.copy()
        replace = n_samples > len(self.frame)
        return self.frame.sample(n_samples, replace=replace, random_state=seed)

    def effective_params(self):
        return {}


def build_model(name, params, seed, schema):
    """The adapter of model ``name`` with the parameter overrides ``params``."""
    if name in OURS:
        return OursAdapter(name, params, seed)
    if name in PEERS:
        return PeerAdapter(name, params, seed, schema)
    if name == "identity":
        return IdentityAdapter(params, seed)
    raise ValueError(f"Unknown model {name!r}; choose among {list(MODELS)}.")
