"""BaseSynthesizer: the fit / sample / save template every synthesizer follows."""

from __future__ import annotations

import copy
import json
import logging
import numbers
import time
import warnings
from abc import ABCMeta, abstractmethod
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._validation import check_frame
from .encoding import MixedTypeEncoder
from .nn._core import TensorBatches, init_parameters_, resolve_device, seeded_generator

__all__ = ["BaseSynthesizer", "load"]

logger = logging.getLogger("skmixsynth")

_FORMAT = "skmixsynth"
_FORMAT_VERSION = 1
_MAX_SEED = 2**31 - 1


def _sampling_threads(device):
    """Threads for ``sample``: torch's intra-op thread count on a CPU, one on an accelerator."""
    return torch.get_num_threads() if torch.device(device).type == "cpu" else 1


def _map_in_threads(function, argument_tuples, workers):
    """``[function(*args) for args in argument_tuples]`` on ``workers`` threads.

    Each thread runs its torch ops on one intra-op thread: small sampling networks scale
    better as independent chunks per core than as one stream split op by op (on 2 cores,
    adult: 566k vs 284k rows/s), and the random number generation and the decoding, which
    are serial within a stream, run side by side. torch's thread setting is per thread once
    set; the caller's own setting is restored when the work is done.
    """
    before = torch.get_num_threads()

    def run(args):
        torch.set_num_threads(1)
        return function(*args)

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(run, argument_tuples))
    finally:
        torch.set_num_threads(before)


class BaseSynthesizer(BaseEstimator, metaclass=ABCMeta):
    """Template of every skmixsynth synthesizer.

    ``fit`` validates the table, fits a :class:`~skmixsynth.MixedTypeEncoder`, builds the torch
    modules on ``device_``, and runs the training phases epoch by epoch over batches drawn from
    a batch source; ``sample`` generates encoded rows in batches under ``eval()`` and
    ``inference_mode()`` and decodes them with the encoder. Subclasses fill small hooks:

    - ``_build_modules(layout, n_rows)`` -> dict of ``torch.nn.Module`` (built on the CPU; the
      base initialises them from the fit's generator and moves them to ``device_``);
    - ``_phases(n_batches)`` -> list of ``(phase_name, n_epochs)``, knowing the number of
      batches per epoch;
    - ``_start_phase(phase)``: create that phase's optimizers;
    - ``_train_step(phase, batch, generator)`` -> dict of scalar loss tensors;
    - ``_generate(n, generator)`` -> ``(numerical, codes)``, the per-column views of ``n``
      generated rows: a float tensor ``(n, layout.n_numerical)`` in the encoder's (0, 1)
      scale and an int64 tensor ``(n, n_discrete)`` of level indices, one per discrete span
      (see :meth:`~skmixsynth.MixedTypeEncoder.inverse_transform_columns`). Models give
      levels, not one-hot blocks: no one-hot matrix is built and read back when sampling;
    - optionally ``_sampler()`` -> the function ``(n, generator) -> (numerical, codes)`` one
      ``sample`` call uses for all its blocks and threads (a model folds its inference network
      there once per call); the default is ``_generate``.

    Learned state lives in ``modules_`` (a :class:`torch.nn.ModuleDict`: parameters and
    buffers) and ``encoder_`` (JSON state), so :meth:`save` writes state dicts and JSON only and
    :meth:`load` reads them back with ``torch.load(..., weights_only=True)``.

    Parameters common to every synthesizer (subclasses repeat them in their signature):
    ``epochs``, ``batch_size``, ``numerical_encoding``, ``max_categories``,
    ``categorical_columns``, ``numerical_columns``, ``device``, ``random_state``, ``verbose``.

    Attributes
    ----------
    encoder_ : MixedTypeEncoder
    modules_ : torch.nn.ModuleDict
    device_ : torch.device
        The device resolved from ``device`` at fit.
    history_ : list of dict
        One dict per finished epoch: ``phase``, ``epoch``, the mean of each loss, ``seconds``.
    n_iter_ : int
        Number of finished epochs over all phases.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fit on a DataFrame whose column names are all strings.
    """

    #: the fewest training rows a model accepts
    _min_samples = 2
    #: rows generated per forward pass in ``sample``
    _sample_batch_size = 4096
    #: rows per independently seeded chunk of ``sample`` (the unit of its threads)
    _sample_chunk_size = 32768

    _parameter_constraints: dict = {
        "epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "numerical_encoding": [StrOptions({"quantile", "minmax"})],
        "max_categories": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "categorical_columns": ["array-like", None],
        "numerical_columns": ["array-like", None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _build_modules(self, layout, n_rows):
        """Return a dict of freshly built ``torch.nn.Module`` for this layout."""

    @abstractmethod
    def _phases(self, n_batches):
        """Return the training phases as a list of ``(name, n_epochs)``."""

    def _start_phase(self, phase):
        """Prepare a phase (create its optimizers). Default: nothing."""

    @abstractmethod
    def _train_step(self, phase, batch, generator):
        """Train on one batch; return a dict of detached scalar loss tensors."""

    @abstractmethod
    def _generate(self, n_samples, generator):
        """Return ``(numerical, codes)`` tensors for ``n_samples`` generated rows."""

    def _sampler(self):
        """The function ``(n, generator) -> (numerical, codes)`` that one ``sample`` call uses
        for all its blocks and threads: a model prepares its inference path (folded layers,
        say) here once per call instead of once per block. Default: ``self._generate``."""
        return self._generate

    def _on_fit_end(self):
        """Called when training stops, however it stops (``modules_`` may be gone after an
        interruption before the first epoch ended). Default: nothing."""

    # --------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Fit the encoder and train the model on a table.

        Parameters
        ----------
        X : DataFrame or 2-D array-like of shape (n_samples, n_features)
            The training table; never modified. Missing values are allowed.
        y : None
            Ignored; present so the synthesizer fits in scikit-learn pipelines and searches.

        Returns
        -------
        self : object
            The fitted synthesizer.
        """
        self._validate_params()
        frame = check_frame(X)
        if frame.shape[0] < self._min_samples:
            raise ValueError(
                f"{type(self).__name__} needs at least {self._min_samples} rows to fit; X has "
                f"n_samples={frame.shape[0]}."
            )
        self.device_ = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        init_seed, train_seed, self._sample_seed = rng.randint(_MAX_SEED, size=3)

        self.encoder_ = MixedTypeEncoder(
            categorical_columns=self.categorical_columns,
            numerical_columns=self.numerical_columns,
            numerical_encoding=self.numerical_encoding,
            max_categories=self.max_categories,
            point_masses=getattr(self, "point_masses", None),
            dtype=np.float32,
            random_state=int(rng.randint(_MAX_SEED)),
        ).fit(frame)
        self.n_features_in_ = self.encoder_.n_features_in_
        if hasattr(self.encoder_, "feature_names_in_"):
            self.feature_names_in_ = self.encoder_.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        data = self.encoder_.transform(frame)

        self.modules_ = self._make_modules(seeded_generator(init_seed, torch.device("cpu")),
                                           n_rows=data.shape[0])
        source = TensorBatches(data, self.batch_size, self.device_)
        self._train(source, seeded_generator(train_seed, self.device_))
        return self

    def _make_modules(self, init_generator, n_rows):
        modules = torch.nn.ModuleDict(self._build_modules(self.encoder_.layout_, n_rows))
        init_parameters_(modules, init_generator)
        return modules.to(self.device_)

    def _train(self, source, generator):
        """The epoch loop: phases, progress, history, watch-dogs."""
        self.history_ = []
        self.n_iter_ = 0
        phases = [(name, int(n)) for name, n in self._phases(source.n_batches) if n > 0]
        bar = _progress_bar(sum(n for _, n in phases), self.verbose, type(self).__name__)
        snapshot = None
        try:
            for phase, n_epochs in phases:
                self._start_phase(phase)
                self.modules_.train()
                for epoch in range(n_epochs):
                    start = time.perf_counter()
                    sums, n_batches = {}, 0
                    for batch in source.iter_epoch(generator):
                        losses = self._train_step(phase, batch, generator)
                        for key, value in losses.items():
                            sums[key] = sums.get(key, 0.0) + value.detach()
                        n_batches += 1
                    record = {"phase": phase, "epoch": epoch}
                    record.update({k: float(v) / n_batches for k, v in sums.items()})
                    bad = {k: v for k, v in record.items()
                           if isinstance(v, float) and not np.isfinite(v)}
                    if bad:
                        if snapshot is not None:
                            self.modules_.load_state_dict(snapshot)
                        raise FloatingPointError(
                            f"{type(self).__name__}: the loss {bad} became non-finite in phase "
                            f"{phase!r} at epoch {epoch}. The model of the last finite epoch "
                            "was kept. Lower the learning rate or check the data for extreme "
                            "values."
                        )
                    record["seconds"] = time.perf_counter() - start
                    self.history_.append(record)
                    self.n_iter_ += 1
                    snapshot = copy.deepcopy(self.modules_.state_dict())
                    _report(bar, record, self.verbose)
        except KeyboardInterrupt:
            if snapshot is None:
                self._forget_fit()
                raise
            self.modules_.load_state_dict(snapshot)
            last = self.history_[-1]
            warnings.warn(
                f"Training interrupted; keeping the model of the last finished epoch (phase "
                f"{last['phase']!r}, epoch {last['epoch']}).",
                RuntimeWarning,
                stacklevel=3,
            )
            raise
        finally:
            if bar is not None:
                bar.close()
            # after the last epoch, an interruption or a non-finite loss alike
            self._on_fit_end()

    def _forget_fit(self):
        for attr in ("modules_", "encoder_", "history_", "n_iter_", "device_"):
            if hasattr(self, attr):
                delattr(self, attr)

    # -------------------------------------------------------------- sampling
    def sample(self, n_samples, *, random_state=None):
        """Generate a synthetic table.

        Parameters
        ----------
        n_samples : int
            Number of rows.
        random_state : int, RandomState instance or None, default=None
            Seed of this call: the same value gives the same rows. With ``None`` each call
            draws a new seed from a stream seeded at fit by the estimator's ``random_state``,
            so successive calls differ but a script re-run gives the same sequence.

        Returns
        -------
        frame : DataFrame of shape (n_samples, n_features_in_)
            The training columns, in order, with their dtypes and categories.
        """
        check_is_fitted(self, "modules_")
        if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or (
            n_samples < 0
        ):
            raise ValueError(f"n_samples must be a non-negative integer; got {n_samples!r}.")
        if random_state is None:
            if not hasattr(self, "_sample_rng"):
                self._sample_rng = np.random.RandomState(self._sample_seed)
            rng = self._sample_rng
        else:
            rng = check_random_state(random_state)
        n_samples = int(n_samples)
        # Fixed-size chunks, each with its own seeds: the rows depend on n_samples and the
        # seed only, not on how many threads generate them.
        # An empty sample is one empty chunk, so that it still has the columns and dtypes.
        starts = list(range(0, n_samples, self._sample_chunk_size)) or [0]
        seeds = rng.randint(_MAX_SEED, size=(len(starts), 2))
        chunks = [(start, min(start + self._sample_chunk_size, n_samples), *seeds[i])
                  for i, start in enumerate(starts)]
        self.modules_.eval()
        sampler = self._sampler()
        chunks = [(sampler, *chunk) for chunk in chunks]
        workers = min(len(chunks), _sampling_threads(self.device_))
        if workers <= 1:
            parts = [self._sample_chunk(*chunk) for chunk in chunks]
        else:
            parts = _map_in_threads(self._sample_chunk, chunks, workers)
        if len(parts) == 1:
            return parts[0]
        return pd.concat(parts, ignore_index=True)

    def _sample_chunk(self, sampler, start, stop, torch_seed, decode_seed):
        """Rows ``start:stop`` of a sample: generated in blocks, then decoded."""
        generator = seeded_generator(int(torch_seed), self.device_)
        layout = self.encoder_.layout_
        numerical = np.empty((stop - start, layout.n_numerical), dtype=np.float32)
        codes = np.empty((stop - start, len(layout.discrete_spans)), dtype=np.int64)
        with torch.inference_mode():
            for lo in range(0, stop - start, self._sample_batch_size):
                hi = min(lo + self._sample_batch_size, stop - start)
                num, code = sampler(hi - lo, generator)
                numerical[lo:hi] = num.to("cpu", torch.float32).numpy()
                codes[lo:hi] = code.to("cpu").numpy()
        return self.encoder_.inverse_transform_columns(numerical, codes,
                                                       random_state=int(decode_seed))

    def score(self, X, y=None):
        """Overall quality of ``len(X)`` sampled rows against ``X`` (greater is better).

        The SDMetrics-style quality score: mean of the column-shape and column-pair-trend
        scores (see :func:`skmixsynth.metrics.quality_score`), sampled with a fixed seed.

        Parameters
        ----------
        X : DataFrame
            Real rows, for instance a held-out fold.
        y : None
            Ignored.

        Returns
        -------
        score : float in [0, 1]
        """
        from .metrics import quality_score

        check_is_fitted(self, "modules_")
        frame = check_frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        frame = self.encoder_._check_columns(frame)
        synthetic = self.sample(frame.shape[0], random_state=0)
        return quality_score(frame[synthetic.columns], synthetic)

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """Write the fitted model to ``path``: torch state dicts and JSON, no pickled code.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : str or path-like
            The path written.
        """
        check_is_fitted(self, "modules_")
        params = {}
        for key, value in self.get_params(deep=False).items():
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
            "class": type(self).__name__,
            "params": params,
            "encoder": self.encoder_.get_state(),
            "history": self.history_,
            "n_iter": self.n_iter_,
            "sample_seed": int(self._sample_seed),
            "device": str(self.device_),
        }
        state = {k: v.detach().to("cpu") for k, v in self.modules_.state_dict().items()}
        payload = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "config": json.dumps(config),
            "state": state,
        }
        torch.save(payload, path)
        return path

    @classmethod
    def load(cls, path, *, device=None):
        """Read a model written by :meth:`save` (``torch.load(..., weights_only=True)``).

        Parameters
        ----------
        path : str or path-like
        device : str or torch.device, default=None
            Where to put the model; defaults to its ``device`` parameter. A model saved on a GPU
            loads on a CPU-only machine with a warning.

        Returns
        -------
        synthesizer : BaseSynthesizer
        """
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"{path!s} is not a skmixsynth model file.")
        if payload["format_version"] > _FORMAT_VERSION:
            raise ValueError(
                f"{path!s} was written by a newer skmixsynth (format "
                f"{payload['format_version']}); upgrade skmixsynth to read it."
            )
        config = json.loads(payload["config"])
        klass = _registry().get(config["class"])
        if klass is None or not issubclass(klass, cls):
            raise ValueError(
                f"{path!s} holds a {config['class']}, which is not a {cls.__name__}."
            )
        est = klass(**config["params"])
        if device is not None:
            est.set_params(device=device)
        est.device_ = resolve_device(est.device, fallback_to_cpu=device is None)
        est.encoder_ = MixedTypeEncoder.from_state(config["encoder"])
        est.n_features_in_ = est.encoder_.n_features_in_
        if hasattr(est.encoder_, "feature_names_in_"):
            est.feature_names_in_ = est.encoder_.feature_names_in_
        modules = torch.nn.ModuleDict(est._build_modules(est.encoder_.layout_, 0))
        modules.load_state_dict(payload["state"])
        est.modules_ = modules.to(est.device_)
        est.history_ = config["history"]
        est.n_iter_ = config["n_iter"]
        est._sample_seed = config["sample_seed"]
        est._on_fit_end()
        return est

    # ------------------------------------------------------------ sklearn
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_sample_rng", None)  # re-created on demand
        return state


def load(path, *, device=None):
    """Load any skmixsynth synthesizer written by ``save``.

    Parameters
    ----------
    path : str or path-like
    device : str or torch.device, default=None

    Returns
    -------
    synthesizer : BaseSynthesizer

    Examples
    --------
    >>> import os, tempfile
    >>> import skmixsynth
    >>> from skmixsynth import IndependentSynthesizer
    >>> from skmixsynth.datasets import make_mixed
    >>> model = IndependentSynthesizer(random_state=0).fit(make_mixed(200, random_state=0))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> _ = model.save(path)
    >>> twin = skmixsynth.load(path)
    >>> twin.sample(5, random_state=1).equals(model.sample(5, random_state=1))
    True
    """
    return BaseSynthesizer.load(path, device=device)


def _registry():
    found, todo = {}, [BaseSynthesizer]
    while todo:
        klass = todo.pop()
        for sub in klass.__subclasses__():
            found[sub.__name__] = sub
            todo.append(sub)
    return found


def _progress_bar(total, verbose, name):
    if not verbose or total == 0:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the progress extra is optional; losses still go to logging
        return None
    return tqdm(total=total, desc=name, unit="epoch", leave=False)


def _report(bar, record, verbose):
    losses = {k: v for k, v in record.items() if k not in ("phase", "epoch", "seconds")}
    if bar is not None:
        bar.set_postfix({"phase": record["phase"], **{k: f"{v:.4f}" for k, v in losses.items()}},
                        refresh=False)
        bar.update(1)
    if verbose:
        logger.info(
            "%s epoch %d: %s (%.2fs)",
            record["phase"],
            record["epoch"],
            ", ".join(f"{k}={v:.4f}" for k, v in losses.items()),
            record["seconds"],
        )
