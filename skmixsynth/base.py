"""BaseSynthesizer: the fit / sample / save template every synthesizer follows.

This module holds the template and its hooks; the work is done next door: the epoch loop in
``_training.py``, sampling in ``_sampling.py``, ``save`` / ``load`` in ``_persistence.py``.
"""

from __future__ import annotations

import numbers
from abc import ABCMeta, abstractmethod

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._arrow import is_stream
from ._compat import Interval, StrOptions
from ._conditions import sample_conditional
from ._persistence import load_model, save_model
from ._sampling import MAX_SEED, check_n_samples, generate_frame, sampling_rng
from ._scale import DEFAULT_CHUNK_ROWS, sample_to_parquet
from ._training import fit_scaled, partial_train, train
from ._validation import check_frame
from .distributed import _wanted as _wants_data_parallel
from .encoding import MixedTypeEncoder
from .nn._core import TensorBatches, resolve_device, seeded_build, seeded_generator

__all__ = ["BaseSynthesizer", "load"]


class BaseSynthesizer(BaseEstimator, metaclass=ABCMeta):
    """Template of every skmixsynth synthesizer.

    ``fit`` validates the table, fits the encoder, builds the torch modules on ``device_``,
    and runs the training phases epoch by epoch over batches drawn from a batch source;
    ``sample`` generates per-column views in batches under ``eval()`` and ``inference_mode()``
    and decodes them with the encoder. Subclasses fill small hooks (``DEVELOPERS.md`` has the
    table and the rules):

    - ``_build_modules(layout)`` -> dict of ``torch.nn.Module``, built on the CPU from the
      parameters and the resolved attributes only (it sets nothing); the base builds them
      under a seeded random state and moves them to ``device_``;
    - ``_phases(n_batches)`` -> list of ``(phase_name, n_epochs)``;
    - ``_start_phase(phase)``: create that phase's optimizers;
    - ``_train_step(phase, batch, generator, *, progress)`` -> dict of scalar loss tensors;
      ``progress`` (:class:`~skmixsynth._training.Progress`) holds the epoch and step numbers;
    - ``_generate(n, generator)`` -> ``(numerical, codes)``, the per-column views of ``n``
      generated rows: a float tensor ``(n, layout.n_numerical)`` in the encoder's (0, 1)
      scale and an int64 tensor ``(n, n_discrete)`` of level indices, one per discrete span
      (see :meth:`~skmixsynth.MixedTypeEncoder.inverse_transform_columns`). Models give
      levels, not one-hot blocks: no one-hot matrix is built and read back when sampling;
    - optionally ``_make_encoder()`` (the unfitted encoder), ``_resolve_params(layout)`` (the
      fitted attributes derived from the parameters, set by ``fit`` and ``load`` alike),
      ``_resolve_data_params(n_rows)`` (sizes chosen from the number of training rows, named
      in ``_data_params``; ``save`` stores them),
      ``_batch_source(encoder, frame)`` (what the epochs iterate over), ``_sampler()`` (the
      function ``(n, generator) -> (numerical, codes)`` one ``sample`` call uses for all its
      blocks and threads), ``_generate_conditional(numerical, codes, generator)`` (a native
      conditional path; without it ``sample(conditions=...)`` samples by rejection) and
      ``_on_fit_end()``.

    Learned state lives in ``modules_`` (a :class:`torch.nn.ModuleDict`: parameters and
    buffers) and ``encoder_`` (JSON state), so :meth:`save` writes state dicts and JSON only and
    :meth:`load` reads them back with ``torch.load(..., weights_only=True)``.

    Parameters common to every synthesizer (subclasses repeat them in their signature):
    ``epochs``, ``batch_size``, ``numerical_encoding``, ``max_categories``,
    ``categorical_columns``, ``numerical_columns``, ``column_encoders``, ``min_count`` (rare-value
    protection, 5 by default), ``identifiers`` (``"fresh"`` by default), ``device``,
    ``random_state``, ``verbose``.

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
        Columns of ``X`` at fit (a target joined by ``fit(X, y)`` is learned but not
        counted: it is no feature).
    feature_names_in_ : ndarray of str
        Only when fit on a DataFrame whose column names are all strings.
    target_names_ : list of str
        The column ``fit(X, y)`` joined from ``y`` (``[]`` when fit without ``y``); it comes
        last in the tables :meth:`sample` returns.
    """

    #: the fewest training rows a model accepts
    _min_samples = 2
    #: rows generated per forward pass in ``sample``
    _sample_batch_size = 4096
    #: rows per independently seeded chunk of ``sample`` (the unit of its threads)
    _sample_chunk_size = 32768
    #: conditional sampling by rejection: a candidate's fixed numerical values may be this far
    #: from the given ones on the encoder's (0, 1) scale
    _condition_tolerance = 0.01
    #: ... and each distinct condition may draw this many candidates per requested row,
    _condition_draws_per_row = 1000
    #: ... but at least this many,
    _condition_min_draws = 10_000
    #: ... at most this many in one round (memory)
    _condition_round_size = 1_000_000
    #: how ``fit`` encodes a streamed table (Parquet): ``"onehot"`` (``encoder.transform``,
    #: the default batch source's view), ``"columns"`` (``transform_columns``, a
    #: ``ColumnBatches`` model), or None when the model needs the whole table in memory ...
    _stream_view = "onehot"
    #: ... and then, why (quoted by the error)
    _stream_refusal = ""
    #: whether the model trains data-parallel under ``torch.distributed`` (gradients averaged
    #: over the processes); otherwise every process fits the whole table (skmixsynth.distributed)
    _data_parallel = False
    #: whether ``partial_fit`` makes sense for the model (see ``partial_fit``)
    _incremental = False

    _parameter_constraints: dict = {
        "epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "numerical_encoding": [StrOptions({"quantile", "minmax"})],
        "max_categories": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "categorical_columns": ["array-like", None],
        "numerical_columns": ["array-like", None],
        "column_encoders": [list, tuple, None],
        "min_count": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "identifiers": [StrOptions({"fresh", "drop"}), None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------ hooks
    def _make_encoder(self):
        """The unfitted :class:`~skmixsynth.MixedTypeEncoder` of this model.

        The base sets its ``random_state`` from the fit's seed before fitting it. Override to
        pass model-specific encoder parameters (``super()._make_encoder().set_params(...)``).
        """
        return MixedTypeEncoder(
            categorical_columns=self.categorical_columns,
            numerical_columns=self.numerical_columns,
            numerical_encoding=self.numerical_encoding,
            max_categories=self.max_categories,
            column_encoders=self.column_encoders,
            min_count=self.min_count,
            identifiers=self.identifiers,
            dtype=np.float32,
        )

    #: names of the fitted attributes :meth:`_resolve_data_params` returns (``save`` stores
    #: them, ``load`` sets them back before the modules are built)
    _data_params = ()

    def _resolve_data_params(self, n_rows):
        """Fitted attributes that depend on the size of the training table, as a dict.

        Sizes chosen from ``n_rows`` (the training rows) where a parameter is left to
        ``None``: a small table gets a smaller model. ``fit`` sets them after the encoder
        and before ``_build_modules``, which may read them; ``save`` stores them, so that
        ``load`` rebuilds the same modules. The names are ``_data_params``. Default: ``{}``.
        """
        return {}

    def _set_data_params(self, n_rows):
        """Set the attributes of :meth:`_resolve_data_params` for a table of ``n_rows``."""
        values = self._resolve_data_params(int(n_rows))
        if set(values) != set(self._data_params):
            raise TypeError(f"{type(self).__name__}._resolve_data_params must return the "
                            f"names in _data_params {self._data_params}; got {sorted(values)}.")
        for name, value in values.items():
            setattr(self, name, value)

    def _resolve_params(self, layout):
        """The fitted attributes derived from the parameters (and the layout), as a dict.

        Names end with ``_`` (``{"noise_dim_": 72}``); ``fit`` and ``load`` both set them
        before ``_build_modules``, which may read them. Must be a pure function of the
        parameters and ``layout``: nothing else survives ``save``/``load``. Default: ``{}``.
        """
        return {}

    @abstractmethod
    def _build_modules(self, layout):
        """Return a dict of freshly built ``torch.nn.Module`` for this layout (sets nothing)."""

    def _stream_source(self, encoder, stream, encode):
        """The batch source of a fit from a Parquet stream in one process: a
        :class:`~skmixsynth._arrow.StreamBatches` over ``stream`` (``encode`` turns a
        DataFrame into the model's ``_stream_view``). A model that needs statistics of the
        table before training (the mixture's held-out rows) takes them here, in a pass of
        bounded memory."""
        from ._arrow import StreamBatches

        return StreamBatches(stream, encode, int(self.batch_size), self.device_)

    def _batch_source(self, encoder, frame):
        """The batch source the epochs iterate over (``iter_epoch``, ``n_rows``, ``n_batches``).

        Default: :class:`~skmixsynth.nn.TensorBatches` over the one-hot encoding of
        ``frame``. A token model returns :class:`~skmixsynth.nn.ColumnBatches` over
        ``encoder.transform_columns(frame)``; a stream or a shard can take their place.
        """
        return TensorBatches(encoder.transform(frame), self.batch_size, self.device_)

    @abstractmethod
    def _phases(self, n_batches):
        """Return the training phases as a list of ``(name, n_epochs)``."""

    def _start_phase(self, phase):
        """Prepare a phase (create its optimizers). Default: nothing."""

    @abstractmethod
    def _train_step(self, phase, batch, generator, *, progress):
        """Train on one batch; return a dict of detached scalar loss tensors.

        ``progress`` (:class:`~skmixsynth._training.Progress`) gives the epoch within the
        phase, the step within the phase and their totals (for schedules: KL annealing,
        temperature decay).
        """

    @abstractmethod
    def _generate(self, n_samples, generator):
        """Return ``(numerical, codes)`` tensors for ``n_samples`` generated rows."""

    def _sampler(self):
        """The function ``(n, generator) -> (numerical, codes)`` that one ``sample`` call uses
        for all its blocks and threads: a model prepares its inference path (folded layers,
        say) here once per call instead of once per block. Default: ``self._generate``."""
        return self._generate

    def _generate_conditional(self, numerical, codes, generator):
        """Rows that honour fixed values, or ``None`` when the model has no native path.

        ``numerical`` is a float tensor ``(n, layout.n_numerical)`` on ``device_`` holding the
        fixed values on the encoder's (0, 1) scale and NaN where free; ``codes`` an int64
        tensor ``(n, n_discrete)`` holding the fixed levels and -1 where free (row ``i`` is
        the condition of generated row ``i``). Return ``(numerical, codes)`` as
        :meth:`_generate` does, with every fixed level kept (the base checks) and the fixed
        numerical values close (the base sets the exact given values after decoding). Runs
        under ``inference_mode`` and ``eval()``. Default: ``None``, and ``sample`` falls back
        to rejection.
        """
        return None

    def _generate_in_ranges(self, numerical, codes, low, high, generator):
        """Rows that honour fixed values and ranges of numerical values, or ``None`` when
        the model has no native path for ranges (``sample`` then falls back to rejection).

        As :meth:`_generate_conditional`, and ``low``, ``high``: float tensors ``(n,
        layout.n_numerical)``, the bounds of each ranged scalar on the encoder's (0, 1) scale
        (NaN where a scalar has no range; its column's state is fixed to ``present``). The
        returned values of a ranged scalar must lie within its bounds. Default: ``None``.
        """
        return None

    def _on_fit_end(self):
        """Called when training stops, however it stops (``modules_`` may be gone after an
        interruption before the first epoch ended), and after ``load``. Default: nothing."""

    # --------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Fit the encoder and train the model on a table.

        Parameters
        ----------
        X : DataFrame, 2-D array-like, path, pyarrow.dataset.Dataset or ParquetStream
            The training table; never modified. Missing values are allowed. A Parquet file
            or folder (``str`` or path-like) or a ``pyarrow`` dataset is read in record
            batches and never held whole: the encoder is fitted in one pass, and each epoch
            reads the row groups in a random order and shuffles within a buffer
            (:class:`~skmixsynth.ParquetStream` documents it, and sets the buffer).
        y : Series, 1-D array-like or None, default=None
            A target, modelled with ``X`` as one more column rather than dropped:
            ``fit(X, y)`` on ``load_dataset(..., return_X_y=True)`` learns the whole table.
            It is joined to ``X`` as its last column, named ``y.name`` (``"target"`` for an
            unnamed Series, an array or a list), rows matched by position; its name is
            ``target_names_``. ``n_features_in_`` and ``feature_names_in_`` describe ``X``
            alone (the features, as in scikit-learn); :meth:`sample` returns ``X``'s columns
            and the target; :meth:`score` joins a ``y`` it is given, else compares the
            features; a model's ``score_samples(X)`` takes rows with or without the target
            column (without it, the target is marginalised: see each model). A name already
            in ``X``, a length other than ``len(X)`` or several target columns is a
            ``ValueError``; so is a ``y`` with a Parquet stream or under data-parallel
            training (keep the target in the table there).

        Returns
        -------
        self : object
            The fitted synthesizer.

        Notes
        -----
        Inside a ``torch.distributed`` process group of several processes (``torchrun``),
        ``fit`` trains data-parallel: see :mod:`skmixsynth.distributed`.

        Examples
        --------
        >>> from skmixsynth import IndependentSynthesizer
        >>> from skmixsynth.datasets import make_mixed
        >>> table = make_mixed(200, random_state=0)
        >>> X, y = table.drop(columns="plan"), table["plan"]
        >>> model = IndependentSynthesizer(random_state=0).fit(X, y)
        >>> model.n_features_in_, model.target_names_
        (7, ['plan'])
        >>> list(model.sample(3, random_state=0).columns) == list(X.columns) + ["plan"]
        True
        """
        self._validate_params()
        if is_stream(X) or _wants_data_parallel():
            if y is not None:
                raise ValueError(
                    "fit(X, y) joins y to an in-memory table; with a Parquet stream or under "
                    "data-parallel training keep the target as a column of the table and "
                    "call fit(X)."
                )
            self.target_names_ = []  # no joined target (nor a previous fit's)
            return fit_scaled(self, X, _fit_rng(self.random_state))
        frame, targets = _join_target(check_frame(X), y)
        if frame.shape[0] < self._min_samples:
            raise ValueError(
                f"{type(self).__name__} needs at least {self._min_samples} rows to fit; X has "
                f"n_samples={frame.shape[0]}."
            )
        self.device_ = resolve_device(self.device)
        self.__dict__.pop("_sample_rng", None)  # a refit starts the sampling stream afresh
        rng = _fit_rng(self.random_state)
        init_seed, train_seed, self._sample_seed = rng.randint(MAX_SEED, size=3)

        encoder = self._make_encoder().set_params(random_state=int(rng.randint(MAX_SEED)))
        self.target_names_ = targets
        self._set_encoder(encoder.fit(frame))
        self._set_data_params(frame.shape[0])
        self.modules_ = self._make_modules(init_seed)
        source = self._batch_source(self.encoder_, frame)
        train(self, source, seeded_generator(train_seed, self.device_))
        return self

    @available_if(lambda self: self._incremental)
    def partial_fit(self, X, y=None):
        """Fit on one more chunk of the table: for models whose fit is a sum over rows.

        The first call (on an unfitted model) is :meth:`fit` on the chunk: it fits the
        encoder, whose layout is then fixed, so the first chunk must hold every category of
        the table (a later one with an unseen category is a ``ValueError`` naming the column
        and the values) and numerical values beyond its range are clipped to it: give a
        representative first chunk, a random sample of the table for instance. Each later
        call runs the model's training once more over the chunk and adds to what it learnt
        (``history_`` and ``n_iter_`` grow by one record); the same chunks in the same order
        give the same model.

        Only :class:`~skmixsynth.IndependentSynthesizer` has it: its statistics are counts
        that add up over chunks. The other models' training does not split into independent
        calls (MixGAN pre-trains an autoencoder before its GAN, GTCoder fits its latent
        sampler after training, the mixture model starts from the data and stops early on a
        held-out slice); to train them on a table larger than memory, write it to Parquet and
        call ``fit`` on the files (:class:`~skmixsynth.ParquetStream`), which fits the encoder
        on the whole table in one pass first.

        Parameters
        ----------
        X : DataFrame or 2-D array-like
            One chunk, with the training columns; never modified.
        y : Series, 1-D array-like or None, default=None
            A target joined to the chunk as in :meth:`fit`: given with the first chunk, it
            is needed with every chunk (and refused on later chunks if the first had none).

        Returns
        -------
        self : object

        Examples
        --------
        >>> from skmixsynth import IndependentSynthesizer
        >>> from skmixsynth.datasets import make_mixed
        >>> table = make_mixed(3000, random_state=0)
        >>> model = IndependentSynthesizer(random_state=0)
        >>> for start in range(0, 3000, 1000):
        ...     model = model.partial_fit(table.iloc[start:start + 1000])
        >>> model.n_iter_, model.sample(2, random_state=0).shape
        (3, (2, 8))
        """
        return partial_train(self, X, y)

    def _set_encoder(self, encoder):
        """Set ``encoder_``, the input attributes it carries and the resolved attributes."""
        self.encoder_ = encoder
        # the target joined by fit(X, y) is learned, but is no feature (scikit-learn's sense)
        self.n_features_in_ = encoder.n_features_in_ - len(getattr(self, "target_names_", ()))
        if hasattr(encoder, "feature_names_in_"):
            self.feature_names_in_ = encoder.feature_names_in_[:self.n_features_in_]
        else:
            self.__dict__.pop("feature_names_in_", None)
        for name, value in self._resolve_params(encoder.layout_).items():
            if not name.endswith("_") or name.startswith("_"):
                raise TypeError(f"{type(self).__name__}._resolve_params must name fitted "
                                f"attributes ending with '_'; got {name!r}.")
            setattr(self, name, value)

    def _make_modules(self, init_seed):
        """``_build_modules`` under torch's CPU RNG seeded by ``init_seed`` (and restored), as
        a ModuleDict on ``device_``: every layer type is seeded, not only Linear."""
        layout = self.encoder_.layout_
        modules = seeded_build(lambda: torch.nn.ModuleDict(self._build_modules(layout)),
                               init_seed)
        return modules.to(self.device_)

    def _forget_fit(self):
        """Drop every fitted attribute (a fit interrupted before its first epoch ended)."""
        for attr in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, attr)

    # -------------------------------------------------------------- sampling
    def sample(self, n_samples=None, *, conditions=None, random_state=None):
        """Generate a synthetic table, optionally with some columns fixed.

        Parameters
        ----------
        n_samples : int or None, default=None
            Number of rows. Needed unless ``conditions`` is a DataFrame, whose row count it
            must then equal if given.
        conditions : dict or DataFrame, default=None
            Values the returned rows must hold. A dict ``{column: value}`` fixes the same
            values in all ``n_samples`` rows; a DataFrame of any subset of the training
            columns gives one row of conditions per returned row (row ``i`` of the result
            honours row ``i`` of ``conditions``; a missing value in it asks for a missing
            value). The conditioned columns of the result hold exactly the given values and
            the other columns are drawn from the model given them (see Notes). A numerical
            column may instead be given a range, a ``pandas.Interval`` (``{"age":
            pd.Interval(30, 40)}``, in every row of a DataFrame's column): its values are then
            drawn within it (whole units for an integer column), given the other
            conditions; a range that holds one of the column's point masses gives that
            value and the values around it, in the model's proportions. A column not
            seen at fit, a category not seen at fit or not kept by rare-value protection, a
            number outside the training range, a range with no training value, or an
            identifier column is a ``ValueError`` naming the column and the value.
        random_state : int, RandomState instance or None, default=None
            Seed of this call: the same value gives the same rows. With ``None`` each call
            draws a new seed from a stream seeded at fit by the estimator's ``random_state``,
            so successive calls differ but a script re-run gives the same sequence (a refit
            restarts the stream).

        Returns
        -------
        frame : DataFrame of shape (n_samples, n_features_in_)
            The training columns, in order, with their dtypes and categories.

        Raises
        ------
        ValueError
            Besides bad conditions: when the model cannot produce rows meeting a condition
            within the budget below; the message names the condition and the acceptance rate
            reached. Fewer rows than asked are never returned.

        Notes
        -----
        A model with a native conditional path (``_generate_conditional``) generates the
        other columns given the fixed ones. Every other model samples by rejection in the
        encoder's space: candidate rows are accepted when their levels equal the fixed
        levels and each fixed numerical value is within ``_condition_tolerance`` (0.01) of
        the given value on the encoder's (0, 1) scale (a percentile either side with the
        quantile encoding); rows with the same condition share their candidates, and each
        distinct condition may draw at most ``_condition_draws_per_row`` (1,000) candidates
        per requested row and at least ``_condition_min_draws`` (10,000). The result is
        deterministic for a ``random_state``.

        Examples
        --------
        >>> from skmixsynth import IndependentSynthesizer
        >>> from skmixsynth.datasets import make_mixed
        >>> model = IndependentSynthesizer(random_state=0).fit(make_mixed(300, random_state=0))
        >>> fake = model.sample(50, conditions={"region": "north"}, random_state=0)
        >>> fake.shape, set(fake["region"])
        ((50, 8), {'north'})
        """
        check_is_fitted(self, "modules_")
        if conditions is None or (isinstance(conditions, dict) and not conditions):
            if n_samples is None:
                raise ValueError("n_samples is needed (it may only be left out with a "
                                 "DataFrame of conditions).")
            n_samples = check_n_samples(n_samples)
            return generate_frame(self, n_samples, sampling_rng(self, random_state))
        return sample_conditional(self, n_samples, conditions, sampling_rng(self, random_state))

    def sample_to_parquet(self, n_samples, path, *, chunk_rows=DEFAULT_CHUNK_ROWS,
                          random_state=None, n_jobs=None, conditions=None, client=None,
                          overwrite=False):
        """Write a synthetic table of any size to a Parquet dataset, part by part.

        The rows are generated and written in parts of about ``chunk_rows`` rows, so memory
        is bounded by a part (per worker), not by ``n_samples``; the parts can be written in
        parallel by joblib worker processes (``n_jobs``) or by the workers of a Dask cluster
        (``client``). ``path`` becomes a folder of ``part-00000.parquet``,
        ``part-00001.parquet``, ... in row order, which ``pandas.read_parquet(path)``,
        ``pyarrow.dataset.dataset(path)`` or ``dask.dataframe.read_parquet(path)`` read as
        one table with the training columns, dtypes and categories. Needs pyarrow
        (``pip install "skmixsynth[parquet]"``; Dask: ``"skmixsynth[dask]"``, both:
        ``"skmixsynth[scale]"``).

        Parameters
        ----------
        n_samples : int or None
            Number of rows (``None`` only with a DataFrame of ``conditions``).
        path : str or path-like
            The folder to write. Its parent folder must exist; on a cluster it must be on a
            file system every worker sees. The parts are written into a hidden folder next to
            it, renamed to ``path`` once all are written: a failed call leaves nothing.
        chunk_rows : int, default=100_000
            Rows per part file. Without ``conditions`` it is rounded down to whole sampling
            chunks of the model (``_sample_chunk_size``, 32,768 rows; at least one).
        random_state : int, RandomState instance or None, default=None
            As in :meth:`sample`. Without ``conditions`` the dataset holds exactly the rows
            of ``sample(n_samples, random_state=random_state)``, whatever ``chunk_rows``,
            ``n_jobs`` or the cluster: every chunk of 32,768 rows draws from its own
            ``torch.Generator`` and decoding ``RandomState``, seeded up front. With
            ``conditions`` each part is one conditional ``sample`` call with its own seed:
            the rows do not depend on ``n_jobs`` or the cluster, but do on ``chunk_rows``.
        n_jobs : int or None, default=None
            joblib worker processes (``-1``: all cores; ``None``: one, unless in a
            ``joblib.parallel_backend`` block). Each worker loads the model from the bytes
            of :meth:`save` (no pickle of torch modules).
        conditions : dict or DataFrame, default=None
            As in :meth:`sample`; a DataFrame is cut into the parts' rows.
        client : dask.distributed.Client, default=None
            Write the parts on this cluster's workers (one task per part; the saved model is
            scattered to every worker once). Not with ``n_jobs``.
        overwrite : bool, default=False
            Replace what is at ``path``: a file, or a folder holding only ``.parquet`` files
            (an earlier dataset). Without it an existing file or non-empty folder is a
            ``ValueError``; an empty folder is always used.

        Returns
        -------
        path : str
            The absolute path of the folder written.

        Examples
        --------
        >>> import os, tempfile
        >>> import pandas as pd
        >>> from skmixsynth import IndependentSynthesizer
        >>> from skmixsynth.datasets import make_mixed
        >>> model = IndependentSynthesizer(random_state=0).fit(make_mixed(300, random_state=0))
        >>> path = os.path.join(tempfile.mkdtemp(), "synthetic.parquet")
        >>> path = model.sample_to_parquet(70_000, path, chunk_rows=32_768, random_state=0)
        >>> sorted(os.listdir(path))
        ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']
        >>> pd.read_parquet(path).equals(model.sample(70_000, random_state=0))
        True
        """
        written, _ = sample_to_parquet(
            self, n_samples, path, chunk_rows=chunk_rows, random_state=random_state,
            n_jobs=n_jobs, conditions=conditions, client=client, overwrite=overwrite)
        return written

    def score(self, X, y=None):
        """Overall quality of ``len(X)`` sampled rows against ``X`` (greater is better).

        The SDMetrics-style quality score: mean of the column-shape and column-pair-trend
        scores (see :func:`skmixsynth.metrics.quality_score`), sampled with a fixed seed.

        Parameters
        ----------
        X : DataFrame
            Real rows, for instance a held-out fold.
        y : Series, 1-D array-like or None, default=None
            The target, joined to ``X`` as :meth:`fit` joins it. Without it (and without
            the target column in ``X``), a model fitted with a target is scored on the
            features.

        Returns
        -------
        score : float in [0, 1]
        """
        from .metrics import quality_score

        check_is_fitted(self, "modules_")
        frame, _ = self._training_rows(X, y, strict=True)
        # Only the modelled columns are compared: an identifier column (fresh values or
        # dropped) adds no span to the layout and is not meant to look like the real one.
        layout = self.encoder_.layout_
        modelled = [c for c in frame.columns if layout.column_spans(c)]
        synthetic = self.sample(frame.shape[0], random_state=0)
        return quality_score(frame[modelled], synthetic[modelled])

    # ------------------------------------------------------------- the target
    def _training_rows(self, X, y=None, *, strict=False):
        """Rows for ``score`` / ``score_samples`` / ``impute`` as a DataFrame named like the
        training table, and the target columns they lack (``fit(X, y)`` joined a target).

        A DataFrame needs every feature column (extra ones are ignored by the models, an
        error with ``strict``); an array holds the ``n_features_in_`` features in training
        order, or the features and the target. A given ``y`` is joined under the target's
        name.
        """
        targets = list(getattr(self, "target_names_", ()))
        names = [col.name_ for col in self.encoder_.column_encoders_]
        features = names[:len(names) - len(targets)]
        frame = check_frame(X)
        if isinstance(X, pd.DataFrame):
            missing = [c for c in features if c not in frame.columns]
            if missing:
                raise ValueError(
                    f"Columns {missing} were seen at fit but are missing from X (it has "
                    f"{list(frame.columns)})."
                )
            extra = [c for c in frame.columns if c not in set(names)]
            if strict and extra:
                raise ValueError(
                    f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input (columns {extra} were not seen "
                    "at fit)."
                )
        elif frame.shape[1] == len(features):
            frame = frame.set_axis(features, axis=1)
        elif targets and y is None and frame.shape[1] == len(names):
            frame = frame.set_axis(names, axis=1)
        else:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        if y is not None:
            if not targets:
                raise ValueError(
                    f"y is given, but this {type(self).__name__} was fitted without a target; "
                    "pass X alone (or refit with fit(X, y))."
                )
            frame, _ = _join_target(frame, y, name=targets[0])
        return frame, [c for c in targets if c not in frame.columns]

    def _target_completions(self, numerical, codes):
        """Every value of the (absent) target, as encoded views, for a model that scores rows
        by their encoding and marginalises the target by summing over it.

        Yields ``(numerical, codes, log_weight)``: one completion per level of a categorical
        target (weight 1); for a numerical target, 16 points ``(m + 0.5) / 16`` of its (0, 1)
        scale in the "present" state (weight 1/16: a midpoint rule for the integral of the
        density over the scale) and one per other state (missing, a point mass). The sum
        over completions of ``exp(log_score + log_weight)`` is the target's marginal.
        """
        layout = self.encoder_.layout_
        (target,) = self.target_names_
        position = layout.numerical_position(target)
        state = layout.discrete_position(target)
        n_levels = layout.discrete_spans[state].dim if state is not None else 0
        if position is None:
            for level in range(n_levels):
                filled = codes.copy()
                filled[:, state] = level
                yield numerical, filled, 0.0
            return
        grid = (np.arange(_TARGET_GRID) + 0.5) / _TARGET_GRID
        for value in grid:
            filled_num = numerical.copy()
            filled_num[:, position] = value
            filled = codes.copy()
            if state is not None:
                filled[:, state] = 0  # "present": on the scale
            yield filled_num, filled, -np.log(_TARGET_GRID)
        for level in range(1, n_levels):  # missing, point masses
            filled_num = numerical.copy()
            filled_num[:, position] = 0.5
            filled = codes.copy()
            filled[:, state] = level
            yield filled_num, filled, 0.0

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
        return save_model(self, path)

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
        return load_model(cls, path, device=device)

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


#: points of a numerical target's scale summed over when score_samples marginalises it
_TARGET_GRID = 16
_TARGET_NAME = "target"


def _join_target(frame, y, *, name=None):
    """``frame`` with ``y`` joined as its last column, and the target names (``[]`` for no y).

    A Series keeps its name (``"target"`` when it has none), a 1-D array, a list or a
    one-column 2-D array or DataFrame is named ``"target"`` (or its column's name); ``name``
    overrides (the fitted target's, when scoring). Rows are matched by position, as
    scikit-learn matches ``X`` and ``y``; nothing the caller passed is modified.
    """
    if y is None:
        return frame, []
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(
                f"y has {y.shape[1]} columns; a synthesizer joins one target column. Join "
                "several to X yourself (pd.concat([X, y], axis=1)) and fit on the table."
            )
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        values = y.set_axis(frame.index) if len(y) == len(frame) else y
        own = y.name
    else:
        array = np.asarray(y)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise ValueError(
                f"y must be one column (a Series or a 1-D array); got an array of shape "
                f"{array.shape}. Join several targets to X yourself and fit on the table."
            )
        values = pd.Series(array, index=frame.index) if len(array) == len(frame) else array
        own = None
    if len(values) != len(frame):
        raise ValueError(
            f"y has {len(values)} rows but X has {len(frame)}; fit(X, y) joins y to X as a "
            "column, row by row."
        )
    column = name if name is not None else (_TARGET_NAME if own is None else own)
    if column in frame.columns:
        raise ValueError(
            f"y would be joined to X as column {column!r}, which X already has; rename y "
            "(y.rename(...)) or drop that column from X."
        )
    joined = pd.concat([frame, values.rename(column)], axis=1)
    joined.attrs = dict(frame.attrs)  # an array's x0, x1, ... stay internal names
    return joined, [column]


def _fit_rng(random_state):
    """The RandomState ``fit`` draws its seeds from. ``None`` gets fresh OS entropy instead of
    numpy's global RandomState (which ``check_random_state(None)`` would return and advance)."""
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(1)[0])
    return check_random_state(random_state)


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
