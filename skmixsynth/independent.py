"""IndependentSynthesizer: each column from its own fitted marginal (the documented floor)."""

from __future__ import annotations

import numbers

import torch

from ._compat import Interval
from .base import BaseSynthesizer
from .nn import Marginals

__all__ = ["IndependentSynthesizer"]


class IndependentSynthesizer(BaseSynthesizer):
    """Sample every column independently from its fitted marginal distribution.

    Numerical columns are sampled from a histogram of their encoded values (``n_bins`` bins
    of the quantile-encoded scale, so the histogram follows the column's own CDF and point
    masses stay point masses); categorical columns and missing-value indicators from their
    level frequencies. It keeps every marginal and no dependency between columns: the floor
    that a real model must beat on pair trends, correlation maintenance and efficacy.
    Conditional sampling (``sample(n, conditions=...)``) is native and exact: given the fixed
    columns, the others keep their marginals.

    Parameters
    ----------
    n_bins : int, default=1000
        Histogram bins per numerical column.
    epochs : int, default=1
        Passes over the data to collect the statistics (one is enough; kept for the common
        interface).
    batch_size : int, default=8192
        Rows per batch while collecting statistics.
    numerical_encoding : {"quantile", "minmax"}, default="quantile"
        See :class:`~skmixsynth.MixedTypeEncoder`.
    max_categories : int or None, default=50
        See :class:`~skmixsynth.MixedTypeEncoder`. Every synthesizer keeps the 49 most
        frequent levels of a column and groups the others (drawn back by their training
        frequencies): a column of thousands of levels (a zip code, numbers in an object
        column) costs at most 50 outputs. ``None`` keeps every level.
    categorical_columns, numerical_columns : list of str, default=None
        Override the column kinds inferred from dtypes.
    column_encoders : list of (name, encoder, columns), default=None
        The encoding of chosen columns, in :class:`~sklearn.compose.ColumnTransformer`'s
        manner (``[("age", "minmax", ["age"]), ("zip", "categorical", ["zip"])]``); the
        other columns are inferred. See :class:`~skmixsynth.MixedTypeEncoder`.
    min_count : int or None, default=5
        Rare-value protection (on by default): a category seen fewer than ``min_count`` times
        is never sampled and never stored in the model (its rows decode to ``"_RARE_"``, or to
        a missing value in a column that cannot hold a string), numerical columns are clipped
        to bounds that average the ``min_count`` values next to the most extreme ones, and no
        stored number is a single row's value. ``None`` turns the protection off. See
        :class:`~skmixsynth.MixedTypeEncoder`.
    identifiers : {"fresh", "drop"} or None, default="fresh"
        A string or integer column whose values are almost all distinct (an email, a
        customer id) is detected at fit with a warning: ``"fresh"`` samples new values in the
        training values' format that never equal a training value, ``"drop"`` leaves the
        column out of the samples, ``None`` detects nothing (the column is then modelled like
        any other, its values protected by ``min_count``). Name a column in
        ``categorical_columns`` / ``numerical_columns`` / ``column_encoders`` to model it.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    encoder_ : MixedTypeEncoder
    modules_ : torch.nn.ModuleDict
        ``{"marginals": Marginals}``.
    device_ : torch.device
    history_ : list of dict
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmixsynth import IndependentSynthesizer
    >>> from skmixsynth.datasets import make_mixed
    >>> real = make_mixed(500, random_state=0)
    >>> model = IndependentSynthesizer(random_state=0).fit(real)
    >>> fake = model.sample(100, random_state=0)
    >>> fake.shape == (100, real.shape[1]) and bool((fake.dtypes == real.dtypes).all())
    True
    """

    _parameter_constraints = {
        **BaseSynthesizer._parameter_constraints,
        "n_bins": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_bins=1000,
        epochs=1,
        batch_size=8192,
        numerical_encoding="quantile",
        max_categories=50,
        categorical_columns=None,
        numerical_columns=None,
        column_encoders=None,
        min_count=5,
        identifiers="fresh",
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_bins = n_bins
        self.epochs = epochs
        self.batch_size = batch_size
        self.numerical_encoding = numerical_encoding
        self.max_categories = max_categories
        self.categorical_columns = categorical_columns
        self.numerical_columns = numerical_columns
        self.column_encoders = column_encoders
        self.min_count = min_count
        self.identifiers = identifiers
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _min_samples = 1
    _incremental = True  # counts add up over chunks: partial_fit

    def _build_modules(self, layout):
        return {"marginals": Marginals(layout, self.n_bins)}

    def _phases(self, n_batches):
        return [("statistics", 1 if self.epochs else 0)]

    def _train_step(self, phase, batch, generator, *, progress):
        self.modules_["marginals"].update(batch)
        return {}

    def _generate(self, n_samples, generator):
        return self.modules_["marginals"].generate(n_samples, generator)

    def _generate_conditional(self, numerical, codes, generator):
        # The columns are independent: the other columns given the fixed ones are their
        # marginals, so the fixed slots are simply written over a plain draw.
        num, code = self._generate(numerical.shape[0], generator)
        num = torch.where(torch.isnan(numerical), num, numerical.to(num.dtype))
        return num, torch.where(codes >= 0, codes, code)
