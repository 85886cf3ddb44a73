"""MixtureSynthesizer: a hierarchical mixture with exact likelihood, conditionals and imputation."""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from ._compat import Interval, StrOptions
from ._sampling import MAX_SEED, sampling_rng
from ._validation import check_frame
from .base import BaseSynthesizer
from .nn._core import ColumnBatches, seeded_generator
from .nn._mixture import FREE, NOT_MISSING, HierarchicalMixture, TreeMixture

__all__ = ["MixtureSynthesizer"]

logger = logging.getLogger("skmixsynth")

#: rows per forward pass of ``score_samples`` / ``impute``
_SCORE_BLOCK = 4096
#: from this many training rows on, the default batch is 4,096 rows (512 at most below)
_LARGE_TABLE = 16384
#: training rows the tree's mutual information is estimated on
_STRUCTURE_ROWS = 20_000
#: a fit from a Parquet stream holds out at most this many rows for early stopping ...
_STREAM_VALIDATION = 20_000
#: ... and takes the statistics of its first step from at most this many training rows
_STREAM_SAMPLE = 200_000


class MixtureSynthesizer(BaseSynthesizer):
    """A deep mixture (a probabilistic circuit) with exact likelihood and conditionals.

    Two structures over the encoder's per-column views, both with categorical leaves
    (categorical columns, missing values, point masses) and, for numerical columns,
    Gaussian leaves on the probit scale of the quantile-encoded values (the default) or
    histogram leaves (``n_bins`` equal-width bins of the (0, 1) scale, a uniform density
    inside a bin: equal-mass bins of the marginal):

    - ``structure="tree"`` (the default): a hidden tree
      (:class:`~skmixsynth.nn._mixture.TreeMixture`). Every column has a latent state with
      ``n_components`` values; the latents form the Chow-Liu tree of the columns (the
      maximum spanning tree of their mutual information, learnt from the training rows), and
      each column depends on its own latent only::

          p(x) = sum_z p(z_root) prod_g p(z_g | z_parent(g)) prod_c leaf_c(x_c | z_g(c))

      Each pair of neighbouring columns carries ``K x K`` joint structure, where a
      latent-class model shares ``K`` components among all columns: on adult, TabPC's
      XGBoost detection went from 0.63 (1,000 flat components) to about 0.83 with
      histogram leaves and 0.86 with Gaussian leaves (``docs/mixture.md``).
    - ``structure="groups"``: a two-level hierarchical mixture
      (:class:`~skmixsynth.nn._mixture.HierarchicalMixture`)::

          p(x) = sum_k w_k  prod_g  sum_j v_kgj  prod_{c in group g of k} leaf_kjc(x_c)

      ``n_components`` top components ``k``; the columns are cut into ``n_groups`` groups (a
      random partition drawn at build) and, in each top component, each group is a mixture
      of ``n_subcomponents`` products of per-column leaves.

    Everything is exact: the log-likelihood of a row (:meth:`score_samples`), the
    conditional distribution of any columns given others (``sample(conditions=...)``, by
    conditioning the latent states on the fixed values, no rejection) and the imputation of
    missing cells (:meth:`impute`).

    Fitting maximises the exact log-likelihood by Adam (``solver="adam"``) or by mini-batch
    stepwise EM (``solver="em"``; the expected counts are the gradients of the
    log-likelihood with respect to the log-parameters). A held-out slice of the training rows
    (``validation_fraction``) picks the epoch: Adam's step is halved after an epoch without
    a better validation log-likelihood, training stops after ``patience`` such epochs, and
    the best epoch's parameters are kept.

    Privacy levers: ``smoothing`` adds that many pseudo-rows of the column's marginal to every
    leaf (a component that fits a handful of rows cannot reproduce them exactly), and
    ``weight_floor`` mixes every set of component weights (and every row of the tree's
    transitions) with the uniform weights (no component vanishes into a single row's copy).

    Parameters
    ----------
    structure : {"tree", "groups"}, default="tree"
        The hidden tree over the columns, or the two-level mixture (see above).
    n_components : int, default=None
        ``"tree"``: the states of each column's latent ``K`` (the cost of a row grows as
        ``K**2`` per column); ``"groups"``: the top components ``K1``. ``None``: for the
        tree, a tenth of the training rows between 4 and 64 (64 from 640 rows on); 1000 for
        the groups. The value used is ``n_components_``.
    n_subcomponents : int, default=1
        ``"groups"`` only: sub-components ``K2`` of each group of columns of each top
        component.
    n_groups : int, default=1
        ``"groups"`` only: groups of columns (capped by the number of columns).
        ``n_groups=1`` with ``n_subcomponents=1`` is a one-layer latent-class model: on
        adult it beat the two-level structures tried at the same cost
        (``docs/mixture.md``).
    n_bins : int, default=None
        Histogram bins of each numerical column's (0, 1) scale (the leaves with
        ``numerical_leaves="bins"``; with Gaussian leaves the bins only serve the mutual
        information that picks the tree). ``None``: one per 25
        training rows, between 4 and 32 (32 from 800 rows on): on sonar (166 training rows,
        60 numerical columns) 32 bins and 64 states a column kept little of the columns'
        correlations (pair trends 0.69 against 0.87 with 6 bins and 16 states; quality
        0.81 against 0.90). The value used is ``n_bins_``.
    numerical_leaves : {"gaussian", "bins"}, default="gaussian"
        The leaves of the numerical columns. ``"gaussian"``: per latent state, a Gaussian on
        the column's probit scale ``Phi^{-1}(u)`` of its quantile-encoded value ``u`` (the
        normal scores: the marginal is about standard normal), with a scale of at least 0.01;
        two parameters a state, a smooth density. ``"bins"``: the histogram of ``n_bins``
        bins (and ``discrete_values``). Gaussian leaves track near-deterministic relations
        between columns that bins blur (abalone's XGBoost detection 0.45 -> 0.86, adult's
        0.85 -> 0.88 on seed 0, ``docs/mixture.md``). ``solver="em"`` needs ``"bins"``.
    discrete_values : bool, default=True
        ``numerical_leaves="bins"`` only.
        A numerical column that takes at most 512 distinct values (ages, hours, counts) is
        modelled on those values: at most ``n_bins`` cells of consecutive values, and a value
        within its cell by its training frequency (values held by fewer than ``min_count``
        rows are not kept). Its samples are exactly its values, and ``score_samples`` counts
        it by probability instead of density. ``False``: equal-width bins for every column.
    smoothing : float, default=0.3
        Pseudo-rows of the column's marginal added to every leaf (a Dirichlet prior centred
        on the marginal: the M-step's pseudo-counts with EM, a log-prior term with Adam).
        A privacy lever of the flat mixture: with ``structure="groups"`` on mushroom, 0.1
        copied 54 % of the training rows and 1.0 copied 32 % (adult detection 0.69 and
        0.65). The tree copies about as many mushroom rows at 0.3 as at 10 (76 %, 67 %):
        there the copies come from the table's small support, not from memorising (the tree
        draws rows of the held-out split, never seen, just as often per row; see
        ``docs/mixture.md``).
    weight_floor : float, default=0.0
        Component weights (and each row of the tree's transitions) are mixed with the
        uniform weights in this proportion. 0.01 was the flat mixture's default; on the
        tree it cost about 0.01-0.02 of adult's XGBoost detection and copied no fewer rows.
    solver : {"adam", "em"}, default="adam"
        Adam on the exact log-likelihood (plus the smoothing prior), or stepwise EM on
        sufficient statistics. Adam reached a better held-out likelihood on adult in about
        the same time (``docs/mixture.md``).
    learning_rate : float, default=0.1
        ``"adam"``: Adam's learning rate; ``"em"``: the step size exponent ``kappa`` of
        stepwise EM (step ``(t + 2) ** -kappa`` at step ``t``; use a value in (0.5, 1], such
        as 0.7).
    validation_fraction : float, default=0.1
        Share of the training rows held out for early stopping (none below 20 rows).
    patience : int, default=3
        Epochs without a better validation log-likelihood before training stops.
    tol : float, default=1e-4
        Least improvement of the validation log-likelihood (nats per row) that counts as
        one: a smaller gain keeps the epoch's parameters as the best but counts towards
        ``patience`` (and halves Adam's step), so a long tail of tiny gains ends the fit.
    epochs : int, default=100
        Most passes over the data (early stopping usually ends training far sooner).
    batch_size : int, default=None
        Rows per step. ``None``: a quarter of the training rows, between 32 and 512, so
        that a small table still gets a few steps an epoch and a table of thousands of rows
        a dozen or more (the Gaussian leaves converge in fewer epochs: news 35 instead of
        80); 4096 from 16,384 training rows on, where large batches fit fastest at the same
        fidelity. The value used is ``batch_size_``.
    numerical_encoding : {"quantile", "minmax"}, default="quantile"
        See :class:`~skmixsynth.MixedTypeEncoder`. The bins are equal-mass under the
        quantile encoding.
    point_masses : float in (0, 1) or None, default=0.1
        A value held by at least this share of a numerical column's rows (zero capital
        gains) becomes a level of its own. See :class:`~skmixsynth.MixedTypeEncoder`.
    max_categories : int or None, default=1000
        See :class:`~skmixsynth.MixedTypeEncoder`: the levels of a column beyond the
        ``max_categories - 1`` most frequent are grouped (and drawn back by their training
        frequencies, independently of the other columns). The other synthesizers group
        beyond 50, where a level costs a one-hot output; here a level costs ``K`` numbers
        of a leaf and no output, and grouping loses how the grouped levels go with the
        other columns: on lending_club (762 zip codes) 50 levels gave an XGBoost detection
        of 0.53 and quality 0.852, every level 0.81 and 0.867 (3 seeds). 1000 bounds what a
        free-text column can cost (``K x 1000`` numbers). ``None`` keeps every level.
    categorical_columns, numerical_columns : list of str, default=None
        Override the column kinds inferred from dtypes.
    column_encoders : list of (name, encoder, columns), default=None
        The encoding of chosen columns, in :class:`~sklearn.compose.ColumnTransformer`'s
        manner. See :class:`~skmixsynth.MixedTypeEncoder`.
    min_count : int or None, default=5
        Rare-value protection (see :class:`~skmixsynth.IndependentSynthesizer`).
    identifiers : {"fresh", "drop"} or None, default="fresh"
        Identifier columns (see :class:`~skmixsynth.IndependentSynthesizer`).
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Log the training and validation negative log-likelihood per epoch.

    Attributes
    ----------
    encoder_ : MixedTypeEncoder
    modules_ : torch.nn.ModuleDict
        ``{"mixture": TreeMixture}`` (``{"mixture": HierarchicalMixture}`` for
        ``structure="groups"``); its ``best_epoch`` buffer holds the epoch whose parameters
        were kept, and a tree's ``parent`` buffer its structure (the parent group of each
        group of variables, -1 at the root).
    device_ : torch.device
    history_ : list of dict
        Per epoch: ``nll`` (training rows, mean negative log-likelihood per row) and
        ``val_nll`` (held-out rows), ``seconds``.
    n_iter_ : int
    n_components_, n_bins_, batch_size_ : int
        The sizes used: the parameters, or what ``None`` resolved to for the table's size.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> from skmixsynth.datasets import make_mixed
    >>> from skmixsynth.mixture import MixtureSynthesizer
    >>> real = make_mixed(500, random_state=0)
    >>> model = MixtureSynthesizer(n_components=8, epochs=5,
    ...                            random_state=0).fit(real)
    >>> model.sample(100, random_state=0).shape
    (100, 8)
    >>> model.score_samples(real.head(3)).shape
    (3,)
    >>> north = model.sample(20, conditions={"region": "north"}, random_state=0)
    >>> set(north["region"])
    {'north'}
    """

    _parameter_constraints = {
        **BaseSynthesizer._parameter_constraints,
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_subcomponents": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_groups": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_bins": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "numerical_leaves": [StrOptions({"gaussian", "bins"})],
        "discrete_values": ["boolean"],
        "smoothing": [Interval(numbers.Real, 0, None, closed="left")],
        "weight_floor": [Interval(numbers.Real, 0, 1, closed="left")],
        "solver": [StrOptions({"adam", "em"})],
        "structure": [StrOptions({"tree", "groups"})],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "point_masses": [Interval(numbers.Real, 0, 1, closed="neither"), None],
    }

    def __init__(
        self,
        *,
        structure="tree",
        n_components=None,
        n_subcomponents=1,
        n_groups=1,
        n_bins=None,
        numerical_leaves="gaussian",
        discrete_values=True,
        smoothing=0.3,
        weight_floor=0.0,
        solver="adam",
        learning_rate=0.1,
        validation_fraction=0.1,
        patience=3,
        tol=1e-4,
        epochs=100,
        batch_size=None,
        numerical_encoding="quantile",
        point_masses=0.1,
        max_categories=1000,
        categorical_columns=None,
        numerical_columns=None,
        column_encoders=None,
        min_count=5,
        identifiers="fresh",
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.structure = structure
        self.n_components = n_components
        self.n_subcomponents = n_subcomponents
        self.n_groups = n_groups
        self.n_bins = n_bins
        self.numerical_leaves = numerical_leaves
        self.discrete_values = discrete_values
        self.smoothing = smoothing
        self.weight_floor = weight_floor
        self.solver = solver
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.tol = tol
        self.epochs = epochs
        self.batch_size = batch_size
        self.numerical_encoding = numerical_encoding
        self.point_masses = point_masses
        self.max_categories = max_categories
        self.categorical_columns = categorical_columns
        self.numerical_columns = numerical_columns
        self.column_encoders = column_encoders
        self.min_count = min_count
        self.identifiers = identifiers
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _min_samples = 2
    _stream_view = "columns"

    # ------------------------------------------------------------------ hooks
    def _make_encoder(self):
        return super()._make_encoder().set_params(point_masses=self.point_masses)

    _data_params = ("n_components_", "n_bins_", "batch_size_", "numerical_leaves_")

    def _resolve_data_params(self, n_rows):
        # the small-table rule (docs/mixture.md): sonar's 166 training rows with 64 states
        # and 32 bins a column lost most of the columns' correlations (pair trends 0.69,
        # quality 0.81); 16 states, 6 bins and 41-row batches keep them (0.87, 0.90)
        if self.structure == "tree":
            states = self.n_components or min(64, max(4, n_rows // 10))
        else:
            states = self.n_components or 1000
        if self.solver == "em" and self.numerical_leaves == "gaussian":
            raise ValueError("solver='em' needs numerical_leaves='bins': stepwise EM updates "
                             "categorical and histogram leaves; Gaussian leaves are fitted by "
                             "solver='adam'.")
        return {"n_components_": int(states),
                "n_bins_": int(self.n_bins or min(32, max(4, n_rows // 25))),
                "batch_size_": int(self.batch_size or _default_batch(n_rows)),
                "numerical_leaves_": str(self.numerical_leaves)}

    def _size(self, name):
        """A resolved size; a model saved before sizes were resolved from the table has the
        defaults of its time (64 states, the 32 bins stored in its parameters)."""
        value = getattr(self, name + "_", None)
        if value is not None:
            return value
        if name == "numerical_leaves":  # files written before Gaussian leaves: histograms
            return "bins"
        return getattr(self, name) or {"n_components": 64 if self.structure == "tree"
                                       else 1000, "n_bins": 32, "batch_size": 4096}[name]

    def _build_modules(self, layout):
        if self.structure == "tree":
            return {"mixture": TreeMixture(
                layout, n_states=self._size("n_components"), n_bins=self._size("n_bins"),
                missing_levels=_missing_levels(self.encoder_), weight_floor=self.weight_floor,
                numerical_leaves=self._size("numerical_leaves"))}
        return {"mixture": HierarchicalMixture(
            layout, n_components=self._size("n_components"),
            n_subcomponents=self.n_subcomponents,
            n_groups=self.n_groups, n_bins=self._size("n_bins"),
            missing_levels=_missing_levels(self.encoder_), weight_floor=self.weight_floor,
            numerical_leaves=self._size("numerical_leaves"))}

    def _batch_source(self, encoder, frame):
        numerical, codes = encoder.transform_columns(frame)
        n = numerical.shape[0]
        n_val = round(self.validation_fraction * n) if n >= 20 else 0
        # the split is drawn from the encoder's seed, itself drawn from random_state
        order = np.random.RandomState(encoder.random_state).permutation(n)
        val, train = order[:n_val], order[n_val:]
        self._prepare(numerical[train], codes[train], numerical[val], codes[val], len(train))
        return ColumnBatches(numerical[train], codes[train], self._size("batch_size"),
                             self.device_)

    def _stream_source(self, encoder, stream, encode):
        """A Parquet stream: one pass in the table's fixed order takes the held-out rows
        (every ``m``-th row, at most ``_STREAM_VALIDATION``) and a sample of the others
        (every ``k``-th, at most ``_STREAM_SAMPLE``) for the statistics the in-memory fit
        takes from all its rows; the epochs then stream every row but the held-out ones."""
        from ._arrow import StreamBatches

        n = stream.n_rows
        fraction = self.validation_fraction if n >= 20 else 0.0
        m = 0
        if fraction > 0:
            m = max(2, round(1 / fraction), math.ceil(n / _STREAM_VALIDATION))
        n_val = len(range(0, n, m)) if m else 0
        k = max(1, math.ceil((n - n_val) / _STREAM_SAMPLE))
        val, sample, position, kept = [], [], 0, 0
        for chunk in stream.chunks():
            index = np.arange(position, position + len(chunk))
            position += len(chunk)
            held = (index % m == 0) if m else np.zeros(len(chunk), dtype=bool)
            rest = np.flatnonzero(~held)
            pick = rest[(kept + np.arange(len(rest))) % k == 0]
            kept += len(rest)
            if held.any():
                val.append(encode(chunk.iloc[np.flatnonzero(held)]))
            if len(pick):
                sample.append(encode(chunk.iloc[pick]))
        # the sample's order follows the table's: shuffle it (structure rows, EM start)
        num, codes = (np.concatenate(p) for p in zip(*sample, strict=True))
        order = np.random.RandomState(encoder.random_state).permutation(num.shape[0])
        if val:
            val_num, val_codes = (np.concatenate(p) for p in zip(*val, strict=True))
        else:
            val_num, val_codes = num[:0], codes[:0]
        self._prepare(num[order], codes[order], val_num, val_codes, n - n_val)
        return StreamBatches(stream, encode, self._size("batch_size"), self.device_,
                             skip=(0, m) if m else None)

    def _prepare(self, numerical, codes, val_numerical, val_codes, n_train):
        """What training needs before its first step, from the training rows (or a sample of
        them: ``numerical``, ``codes``, in a random order) and the held-out rows."""
        self._val = None
        self._train_rows = int(n_train)
        if self.discrete_values and not self.modules_["mixture"].gaussian:
            self.modules_["mixture"].set_points(
                torch.as_tensor(numerical), torch.as_tensor(codes),
                min_count=self.min_count or 1)
        if self.structure == "tree":
            rows = slice(0, _STRUCTURE_ROWS)  # already a random order
            self.modules_["mixture"].set_structure(
                torch.as_tensor(numerical[rows]), torch.as_tensor(codes[rows]))
        self._marginal = _level_shares(self.modules_["mixture"], numerical, codes,
                                       self.device_)
        if len(val_numerical):
            self._val = (torch.as_tensor(val_numerical, device=self.device_),
                         torch.as_tensor(val_codes, device=self.device_))
        self._fit_state = {"best": None, "best_nll": np.inf, "bad": 0, "stopped": False,
                           "val_nll": [], "epoch_done": -1}

    def _phases(self, n_batches):
        self._n_batches = n_batches
        return [(self.solver, self.epochs)]

    def _start_phase(self, phase):
        net = self.modules_["mixture"]
        if phase == "adam":
            self._optimizer = torch.optim.Adam(net.parameters(), lr=self.learning_rate)

    def _train_step(self, phase, batch, generator, *, progress):
        state = self._fit_state
        if state["stopped"]:
            return {}
        net = self.modules_["mixture"]
        numerical, codes = batch
        n = numerical.shape[0]
        if progress.step == 0:
            net.init_from_data(numerical, codes, generator, smoothing=1.0)
            self._stats = None
        if phase == "em":
            nll = self._em_step(net, numerical, codes, progress.step)
        else:
            nll = self._adam_step(net, numerical, codes)
        if (progress.step + 1) % self._n_batches == 0:
            self._end_epoch(net, progress.epoch)
        return {"nll": nll / n}

    def _em_step(self, net, numerical, codes, step):
        ll, leaves, sub, top = net.expected_counts(numerical, codes)
        scale = self._n_train() / numerical.shape[0]
        eta = (step + 2.0) ** (-self.learning_rate)
        if self._stats is None:
            self._stats = [leaves * scale, sub * scale, top * scale]
        else:
            for s, new in zip(self._stats, (leaves, sub, top), strict=True):
                s.mul_(1 - eta).add_(new, alpha=eta * scale)
        s_leaves, s_sub, s_top = self._stats
        with torch.no_grad():
            leaves = s_leaves.clamp_min(0) + self.smoothing * self._marginal[:, :, None] + 1e-9
            leaves = leaves / leaves.sum(1, keepdim=True)
            net.set_log_parameters(
                torch.log(leaves), self._log_weights(s_sub), self._log_weights(s_top))
        return -ll

    @staticmethod
    def _log_weights(counts):
        w = counts.clamp_min(0) + 1e-3
        return torch.log(w / w.sum(-1, keepdim=True))

    def _adam_step(self, net, numerical, codes):
        ll = net.log_prob(numerical, codes).sum()
        loss = -ll / numerical.shape[0]
        if self.smoothing:
            # the Dirichlet prior of the EM's M-step: smoothing pseudo-rows of the marginal
            prior = (self._marginal[:, :, None] * net.log_leaves().masked_fill(
                ~net.mask[:, :, None], 0.0)).sum()
            loss = loss - self.smoothing * prior / self._train_rows
        self._optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._optimizer.step()
        return -ll.detach()

    def _n_train(self):
        return self._train_rows

    def _end_epoch(self, net, epoch):
        state = self._fit_state
        if self._val is None:
            state["epoch_done"] = epoch
            return
        with torch.no_grad():
            nll = -float(torch.cat([
                net.log_prob(self._val[0][i:i + _SCORE_BLOCK], self._val[1][i:i + _SCORE_BLOCK])
                for i in range(0, self._val[0].shape[0], _SCORE_BLOCK)]).mean())
        state["val_nll"].append(nll)
        state["epoch_done"] = epoch
        if self.verbose:
            logger.info("MixtureSynthesizer epoch %d: validation nll=%.4f", epoch, nll)
        gain = state["best_nll"] - nll
        if gain > 0:
            state.update(best_nll=nll, best_epoch=epoch,
                         best={k: v.detach().clone() for k, v in net.state_dict().items()})
        if gain > self.tol:
            state["bad"] = 0
        else:
            state["bad"] += 1
            if state["bad"] >= self.patience:
                state["stopped"] = True
            elif getattr(self, "_optimizer", None) is not None:
                # a plateau: halve Adam's step before giving up (TabPC's schedule)
                for group in self._optimizer.param_groups:
                    group["lr"] *= 0.5

    def _on_fit_end(self):
        state = self.__dict__.pop("_fit_state", None)
        for attr in ("_val", "_stats", "_optimizer", "_n_batches", "_train_rows", "_marginal"):
            self.__dict__.pop(attr, None)
        if state is None or "modules_" not in self.__dict__:
            return
        net = self.modules_["mixture"]
        if state["best"] is not None:
            net.load_state_dict(state["best"])
            net.best_epoch.fill_(state["best_epoch"])
        # the epochs after the stop did nothing: drop their records
        done = state["epoch_done"] + 1
        self.history_ = self.history_[:done]
        self.n_iter_ = len(self.history_)
        for record, nll in zip(self.history_, state["val_nll"], strict=False):
            record["val_nll"] = nll

    def _generate(self, n_samples, generator):
        return self.modules_["mixture"].generate(n_samples, generator)

    def _sampler(self):
        net = self.modules_["mixture"]
        tables = net.sampling_tables()  # once per sample call, shared by its blocks
        return lambda n, generator: net.generate(n, generator, tables=tables)

    def _generate_conditional(self, numerical, codes, generator):
        return self.modules_["mixture"].generate_conditional(numerical, codes, generator)

    def _generate_in_ranges(self, numerical, codes, low, high, generator):
        net = self.modules_["mixture"]
        if not net.gaussian:
            return None  # histogram leaves: the template's rejection path
        return net.generate_conditional(numerical, codes, generator, bounds=(low, high))

    # ------------------------------------------------------------ likelihood
    def score_samples(self, X, *, missing="marginalize"):
        """Exact log-likelihood of each row under the model, missing cells marginalised.

        The density is in the encoder's space: a categorical value (and the state of a
        numerical column: missing, a point mass) counts by its probability, a numerical value
        on the scale by its density on the column's (0, 1) quantile scale (so a column whose
        values follow the training marginal contributes about 0; to get the density in the
        column's own units, add the log-derivative of the quantile transform). A missing
        cell (NaN, None) is marginalised by default: the value is the log-likelihood of the
        observed cells; with ``missing="value"`` a missing cell of a column that had missing
        values at fit counts as that value (the model learns missingness like any level), so
        that the probabilities of all complete rows sum to one. A category the model never
        saw (nor protected by ``min_count``) gets ``-inf``; numerical values outside the
        training range are clipped to it like in ``transform``.

        Parameters
        ----------
        X : DataFrame or 2-D array-like
            Rows holding the training columns (an identifier column is not needed).
        missing : {"marginalize", "value"}, default="marginalize"
            What a missing cell is: unknown (summed over every value, missing included), or
            the value "missing" where the column had missing values at fit (elsewhere it is
            marginalised).

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,), float64

        Examples
        --------
        >>> from skmixsynth.datasets import make_mixed
        >>> from skmixsynth.mixture import MixtureSynthesizer
        >>> real = make_mixed(400, random_state=0)
        >>> model = MixtureSynthesizer(n_components=4, epochs=3,
        ...                            random_state=0).fit(real)
        >>> ll = model.score_samples(real.head(5))
        >>> partial = real.head(5).assign(education=None)  # a probability <= 1 marginalised
        >>> bool((model.score_samples(partial) >= ll - 1e-6).all())
        True
        """
        check_is_fitted(self, "modules_")
        if missing not in ("marginalize", "value"):
            raise ValueError(f"missing must be 'marginalize' or 'value'; got {missing!r}.")
        frame, _ = self._check_rows(X)
        numerical, codes, impossible, _ = self._views(
            frame, impute=False, missing_as_value=missing == "value")
        net = self.modules_["mixture"]
        net.eval()
        out = np.empty(frame.shape[0], dtype=np.float64)
        with torch.inference_mode():
            for lo in range(0, frame.shape[0], _SCORE_BLOCK):
                num = torch.as_tensor(numerical[lo:lo + _SCORE_BLOCK], dtype=torch.float32,
                                      device=self.device_)
                code = torch.as_tensor(codes[lo:lo + _SCORE_BLOCK], device=self.device_)
                out[lo:lo + _SCORE_BLOCK] = net.log_prob(num, code).double().cpu().numpy()
        out[impossible] = -np.inf
        return out

    def impute(self, X, *, method="sample", random_state=None):
        """Fill the missing cells of a table from their exact conditional given the others.

        Each missing cell of a modelled column is drawn (``"sample"``) or set to its most
        probable value (``"mode"``) under the model's exact conditional distribution given
        the observed cells of its row, among the non-missing values (a missing value is what
        is replaced). ``"mode"`` takes each cell's own conditional mode: for a numerical
        column, its most probable point mass or, when "on the scale" is more probable, the
        middle of its most probable bin. Observed cells are returned unchanged; a category
        the model never saw is not used as evidence.

        Parameters
        ----------
        X : DataFrame or 2-D array-like
            Rows holding the training columns; never modified.
        method : {"sample", "mode"}, default="sample"
        random_state : int, RandomState instance or None, default=None
            Seed of the draws (``"sample"``, and grouped levels); ``None`` continues the
            model's sampling stream, as :meth:`sample` does.

        Returns
        -------
        frame : DataFrame
            ``X`` with its missing cells filled (identifier columns are left as they are).

        Examples
        --------
        >>> import numpy as np
        >>> from skmixsynth.datasets import make_mixed
        >>> from skmixsynth.mixture import MixtureSynthesizer
        >>> real = make_mixed(400, random_state=0)
        >>> model = MixtureSynthesizer(n_components=4, epochs=3,
        ...                            random_state=0).fit(real)
        >>> holes = real.head(4).copy()
        >>> holes.loc[[0, 2], "education"] = np.nan
        >>> filled = model.impute(holes, random_state=0)
        >>> int(filled["education"].isna().sum()), filled["age"].equals(holes["age"])
        (0, True)
        """
        check_is_fitted(self, "modules_")
        if method not in ("sample", "mode"):
            raise ValueError(f"method must be 'sample' or 'mode'; got {method!r}.")
        frame, names = self._check_rows(X)
        numerical, codes, _, missing = self._views(frame, impute=True)
        rng = sampling_rng(self, random_state)
        torch_seed, decode_seed = (int(s) for s in rng.randint(MAX_SEED, size=2))
        generator = seeded_generator(torch_seed, self.device_)
        net = self.modules_["mixture"]
        net.eval()
        out_num = np.empty(numerical.shape, dtype=np.float32)
        out_codes = np.empty(codes.shape, dtype=np.int64)
        with torch.inference_mode():
            for lo in range(0, frame.shape[0], _SCORE_BLOCK):
                num = torch.as_tensor(numerical[lo:lo + _SCORE_BLOCK], dtype=torch.float32,
                                      device=self.device_)
                code = torch.as_tensor(codes[lo:lo + _SCORE_BLOCK], device=self.device_)
                if method == "sample":
                    num, code = net.generate_conditional(num, code, generator)
                else:
                    num, code = _modes(net, num, code)
                out_num[lo:lo + _SCORE_BLOCK] = num.cpu().numpy()
                out_codes[lo:lo + _SCORE_BLOCK] = code.cpu().numpy()
        decoded = self.encoder_.inverse_transform_columns(
            np.nan_to_num(out_num, nan=0.5), np.maximum(out_codes, -1),
            random_state=decode_seed)
        result = frame.iloc[:, :check_frame(X).shape[1]].copy()  # not a target X lacks
        for name, miss in missing.items():
            if name in result.columns and miss.any():
                result[name] = _fill(result[name], decoded[name], miss)
        if not isinstance(X, pd.DataFrame):
            result.columns = names if names is not None else result.columns
        return result

    # ------------------------------------------------------------ helpers
    def _check_rows(self, X):
        """``X`` as a frame of the training columns (an absent target, joined at fit by
        ``fit(X, y)``, as a missing value: marginalised), and an array's own column names."""
        frame, absent = self._training_rows(X)
        if absent:
            frame = frame.copy()
            for name in absent:
                frame[name] = np.nan
        return frame, (None if isinstance(X, pd.DataFrame) else list(check_frame(X).columns))

    def _views(self, frame, *, impute, missing_as_value=False):
        """Per-column evidence of ``frame``: observed cells encoded, missing cells free (or,
        with ``impute``, "not missing"). Returns numerical (NaN free), codes, rows holding a
        value the model cannot score, and the missing mask of each modelled column."""
        layout = self.encoder_.layout_
        n = frame.shape[0]
        numerical = np.full((n, layout.n_numerical), np.nan, dtype=np.float64)
        codes = np.full((n, len(layout.discrete_spans)), FREE, dtype=np.int64)
        impossible = np.zeros(n, dtype=bool)
        missing_levels = _missing_levels(self.encoder_)
        missing = {}
        for col in self.encoder_.column_encoders_:
            name = col.name_
            if not layout.column_spans(name):
                continue
            series = frame[name]
            miss = series.isna().to_numpy()
            missing[name] = miss
            i, j = layout.numerical_position(name), layout.discrete_position(name)
            keep = np.flatnonzero(~miss)
            part = series.iloc[keep]
            try:
                num, code = col.encode(part, handle_unknown="ignore")
            except TypeError:
                num, code = col.encode(part)
            if j is not None:
                c = code[:, 0]
                impossible[keep[c < 0]] = True
                codes[keep, j] = c
                if impute:
                    codes[miss, j] = NOT_MISSING if missing_levels[j] >= 0 else FREE
                elif missing_as_value:
                    codes[miss, j] = missing_levels[j] if missing_levels[j] >= 0 else FREE
            if i is not None:
                on_scale = code[:, 0] == 0 if j is not None else np.ones(len(keep), bool)
                numerical[keep[on_scale], i] = num[on_scale, 0]
        return numerical, codes, impossible, missing


def _default_batch(n_rows):
    """The batch size for ``n_rows`` training rows when ``batch_size`` is None: a quarter of
    the rows within [32, 512], and 4096 from 16,384 rows on (``docs/mixture.md``)."""
    if n_rows >= _LARGE_TABLE:
        return 4096
    return min(512, max(32, n_rows // 4))


def _level_shares(net, numerical, codes, device):
    """Share of each level of each variable in the training rows ``(V, L)`` (the centre of
    the leaves' Dirichlet prior)."""
    L = net.n_levels
    counts = torch.zeros(net.n_variables, L + 2, device=device)
    for lo in range(0, numerical.shape[0], 65536):
        idx = net.evidence(torch.as_tensor(numerical[lo:lo + 65536], device=device),
                           torch.as_tensor(codes[lo:lo + 65536], device=device))
        counts.scatter_add_(1, idx.T, torch.ones(idx.T.shape, device=device))
    counts = counts[:, :L]
    shares = counts / counts.sum(1, keepdim=True).clamp_min(1.0)
    return torch.where(net.mask, shares.clamp_min(1e-6), 0.0)


def _missing_levels(encoder):
    """The level of each discrete span that stands for a missing value (-1 for none)."""
    by_name = {str(col.name_): col for col in encoder.column_encoders_}
    out = []
    for span in encoder.layout_.discrete_spans:
        level = -1
        if span.kind == "missing":
            level = span.labels.index("missing") if "missing" in span.labels else -1
        else:
            col = by_name.get(span.column)
            state = getattr(col, "state_", None)
            if state is not None and getattr(state, "has_missing", False):
                level = int(getattr(col, "_missing_code", span.dim - 1))
        out.append(level)
    return out


def _modes(net, numerical, codes):
    """Each free variable's conditional mode (see ``MixtureSynthesizer.impute``)."""
    probs = net.conditional_marginals(numerical, codes)  # (n, V, L)
    level = probs.argmax(-1)
    M = net.n_numerical
    out_num = numerical.clone()
    if M:
        if net.gaussian:
            centre = net.conditional_numerical_modes(numerical, codes)
        else:
            centre = net.cell_value.gather(1, level[:, :M].T).T
        out_num = torch.where(torch.isnan(numerical), centre, numerical)
    out_codes = codes.clone()
    if net.n_discrete:
        out_codes = torch.where(codes >= 0, codes, level[:, M:])
    return out_num, out_codes


def _fill(column, decoded, miss):
    """``column`` with the cells of ``miss`` taken from ``decoded`` (its dtype kept if it can
    hold them)."""
    values = decoded.to_numpy()
    try:
        out = column.copy()
        out.iloc[np.flatnonzero(miss)] = values[miss]
        return out
    except (TypeError, ValueError):
        out = column.astype(object)
        out.iloc[np.flatnonzero(miss)] = values[miss]
        return out
