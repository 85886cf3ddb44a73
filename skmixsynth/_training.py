"""The epoch loop of ``BaseSynthesizer.fit``: phases, progress, history and watch-dogs.

Pure plumbing around the model's hooks (``_phases``, ``_start_phase``, ``_train_step``,
``_on_fit_end``); see ``DEVELOPERS.md`` for what each hook must do.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["Progress", "fit_scaled", "partial_train", "train"]

logger = logging.getLogger("skmixsynth")


@dataclass(frozen=True)
class Progress:
    """Where one training step stands, passed to ``_train_step(..., progress=...)``.

    Everything counts from 0 and within the current phase: schedules such as KL annealing
    or a temperature decay read ``fraction`` (or ``epoch`` / ``step``) and need no state of
    their own.

    Attributes
    ----------
    epoch : int
        Epoch within the phase, ``0 <= epoch < n_epochs``.
    n_epochs : int
        Epochs of the phase.
    step : int
        Step (batch) within the phase, counted over its epochs.
    n_steps : int
        Steps the phase will take: ``n_epochs`` times the batch source's ``n_batches``.

    Examples
    --------
    >>> from skmixsynth._training import Progress
    >>> Progress(epoch=1, n_epochs=4, step=5, n_steps=12).fraction
    0.4166...
    """

    epoch: int
    n_epochs: int
    step: int
    n_steps: int

    @property
    def fraction(self):
        """``step / n_steps``: the share of the phase done before this step, in [0, 1)."""
        return self.step / self.n_steps if self.n_steps else 0.0


def train(model, source, generator, *, reduce=None, resume=False):
    """Run the training phases of ``model`` over the batches of ``source``.

    Fills ``model.history_`` (one record per finished epoch) and ``model.n_iter_``. On a
    non-finite epoch loss the weights of the last finite epoch are restored and a
    ``FloatingPointError`` names the phase and epoch (before any epoch finished, the fit is
    dropped instead); on ``KeyboardInterrupt`` the weights of
    the last finished epoch are kept (with a warning) and the interruption propagates.
    ``model._on_fit_end()`` runs however training stops.

    Parameters
    ----------
    model : BaseSynthesizer
        With ``modules_`` built and ``device_`` set.
    source : batch source
        ``iter_epoch(generator)``, ``n_rows``, ``n_batches``.
    generator : torch.Generator
        The training generator, on ``model.device_``.
    reduce : callable, default=None
        ``{loss: epoch mean} -> {loss: mean over the processes}`` in a data-parallel fit, so
        that every process keeps the same history and stops alike on a non-finite loss.
    resume : bool, default=False
        Go on from a fitted model (``partial_fit``): keep ``history_`` and ``n_iter_`` and
        add to them; a non-finite loss or an interruption restores the model as it was.
    """
    if not resume:
        model.history_ = []
        model.n_iter_ = 0
    batches_per_epoch = source.n_batches
    phases = [(name, int(n)) for name, n in model._phases(batches_per_epoch) if n > 0]
    bar = _progress_bar(sum(n for _, n in phases), model.verbose, type(model).__name__)
    snapshot = _cpu_snapshot(model.modules_) if resume else None
    try:
        for phase, n_epochs in phases:
            model._start_phase(phase)
            model.modules_.train()
            step = 0
            for epoch in range(n_epochs):
                start = time.perf_counter()
                sums, n_batches = {}, 0
                for batch in source.iter_epoch(generator):
                    progress = Progress(epoch, n_epochs, step, n_epochs * batches_per_epoch)
                    losses = model._train_step(phase, batch, generator, progress=progress)
                    step += 1
                    for key, value in losses.items():
                        sums[key] = sums.get(key, 0.0) + value.detach()
                    n_batches += 1
                record = {"phase": phase, "epoch": epoch}
                means = {k: float(v) / n_batches for k, v in sums.items()}
                record.update(means if reduce is None else reduce(means))
                bad = {k: v for k, v in record.items()
                       if isinstance(v, float) and not np.isfinite(v)}
                if bad:
                    if snapshot is None:
                        model._forget_fit()
                        kept = "No epoch had finished, so nothing was kept (not fitted)."
                    else:
                        model.modules_.load_state_dict(snapshot)
                        kept = "The model of the last finite epoch was kept."
                    raise FloatingPointError(
                        f"{type(model).__name__}: the loss {bad} became non-finite in phase "
                        f"{phase!r} at epoch {epoch}. {kept} Lower the learning rate or "
                        "check the data for extreme values."
                    )
                record["seconds"] = time.perf_counter() - start
                model.history_.append(record)
                model.n_iter_ += 1
                snapshot = _cpu_snapshot(model.modules_)
                _report(bar, record, model.verbose)
    except KeyboardInterrupt:
        if snapshot is None:
            model._forget_fit()
            raise
        model.modules_.load_state_dict(snapshot)
        if not model.history_:  # resumed, and not one epoch finished
            raise
        last = model.history_[-1]
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
        model._on_fit_end()


def _cpu_snapshot(modules):
    """A copy of ``modules``' state dict on the CPU: the rollback point of the last finished
    epoch costs host memory, not a second copy of the model on the accelerator."""
    return {k: v.detach().to("cpu", copy=True) for k, v in modules.state_dict().items()}


def _progress_bar(total, verbose, name):
    """What shows a verbose fit's progress: a tqdm bar (the ``progress`` extra) that stays on
    screen with the last losses; without tqdm, plain lines on stderr (:class:`_PlainProgress`)
    unless the ``skmixsynth`` logger already shows its INFO lines to the user."""
    if not verbose or total == 0:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the progress extra is optional
        return None if _logs_reach_user() else _PlainProgress(total, name)
    return tqdm(total=total, desc=name, unit="epoch", leave=True)


def _logs_reach_user():
    """Whether the per-epoch INFO lines of the ``skmixsynth`` logger are shown somewhere (a
    handler is configured and lets INFO through), as the command line arranges."""
    if not logger.isEnabledFor(logging.INFO):
        return False
    current = logger
    while current is not None:
        if any(handler.level <= logging.INFO for handler in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def _format_losses(losses):
    return ", ".join(f"{k}={v:.4g}" for k, v in losses.items())


class _PlainProgress:
    """Progress of a verbose fit without tqdm: a line on stderr after the first epoch, at
    every tenth of the epochs or after 10 seconds without one, and a final line with the
    last losses (the bar's interface: ``update``/``close``)."""

    interval = 10.0

    def __init__(self, total, name):
        self.total, self.name = total, name
        self.done = 0
        self.start = self.printed = time.perf_counter()
        self.tenth = 0
        self.last = None

    def update(self, record, losses):
        self.done += 1
        self.last = (record, losses)
        now = time.perf_counter()
        tenth = 10 * self.done // self.total
        if self.done == self.total:
            return  # close() writes the final line
        if self.done == 1 or tenth > self.tenth or now - self.printed >= self.interval:
            self.tenth, self.printed = tenth, now
            self._write(f"epoch {self.done}/{self.total}", record, losses)

    def close(self):
        if self.last is not None:
            record, losses = self.last
            elapsed = time.perf_counter() - self.start
            self._write(f"done, {self.done}/{self.total} epochs in {elapsed:.1f}s, last",
                        record, losses)

    def _write(self, where, record, losses):
        line = f"{self.name}: {where} ({record['phase']} epoch {record['epoch']})"
        if losses:
            line += f": {_format_losses(losses)}"
        print(line, file=sys.stderr, flush=True)


def _report(bar, record, verbose):
    losses = {k: v for k, v in record.items() if k not in ("phase", "epoch", "seconds")}
    if isinstance(bar, _PlainProgress):
        bar.update(record, losses)
    elif bar is not None:
        bar.set_postfix({"phase": record["phase"], **{k: f"{v:.4g}" for k, v in losses.items()}},
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


# ------------------------------------------------------------------------------------------
# fit from a stream, or data-parallel: BaseSynthesizer.fit hands over here
def fit_scaled(model, X, rng):
    """``fit`` for a table on disk (a :class:`~skmixsynth.ParquetStream`, a Parquet path, a
    ``pyarrow`` dataset) and/or inside a process group (``skmixsynth.distributed``).

    The steps of ``BaseSynthesizer.fit``, with the same seeds drawn from ``rng`` in the same
    order: the encoder is fitted in one pass over a stream (on rank 0 only in a data-parallel
    fit, its state broadcast), the modules are built, and the epochs iterate over a
    :class:`~skmixsynth._arrow.StreamBatches` or over this process's shard.
    """
    from . import distributed as ddp
    from ._arrow import as_stream, is_stream
    from ._sampling import MAX_SEED
    from ._validation import check_frame
    from .nn._core import resolve_device, seeded_generator

    name = type(model).__name__
    stream = as_stream(X) if is_stream(X) else None
    if stream is not None:
        stream._opened = None  # read the files' metadata afresh: they may have changed
    frame = None
    if stream is None:
        frame = check_frame(X)
        if frame.shape[0] < model._min_samples:
            raise ValueError(
                f"{name} needs at least {model._min_samples} rows to fit; X has "
                f"n_samples={frame.shape[0]}.")
    elif model._stream_view is None:
        raise ValueError(f"{name} cannot fit from a stream (got {X!r}): "
                         f"{model._stream_refusal} Read the table into a DataFrame (a sample "
                         "of it if it is too large) and fit on that.")
    elif stream.n_rows < model._min_samples:
        raise ValueError(f"{name} needs at least {model._min_samples} rows to fit; {stream!r} "
                         f"has n_samples={stream.n_rows}.")
    device = resolve_device(model.device)
    context = ddp._context(device.type)
    if context is not None:
        device = ddp._local_device(device)
    model.device_ = device
    model.__dict__.pop("_sample_rng", None)  # a refit starts the sampling stream afresh
    init_seed, train_seed, sample_seed = rng.randint(MAX_SEED, size=3)
    encoder_seed = int(rng.randint(MAX_SEED))
    seeds = [int(init_seed), int(train_seed), int(sample_seed), encoder_seed]
    if context is not None:
        seeds = context.broadcast_object(seeds, device)
        if not model._data_parallel:
            ddp._warn_local(model, context)
            context = None  # every rank fits the whole table from the shared seeds
    init_seed, train_seed, model._sample_seed, encoder_seed = seeds

    encoder = model._make_encoder().set_params(random_state=encoder_seed)
    if context is None or context.rank == 0:
        encoder = encoder.fit(frame) if stream is None else stream.fit_encoder(encoder)
    if context is not None:
        state = context.broadcast_object(
            encoder.get_state() if context.rank == 0 else None, device)
        if context.rank != 0:
            encoder = type(encoder).from_state(state)
    model._set_encoder(encoder)
    model._set_data_params(frame.shape[0] if stream is None else stream.n_rows)
    model.modules_ = model._make_modules(init_seed)
    if context is None:
        source = _source(model, frame, stream, train_seed, None)
        train(model, source, seeded_generator(train_seed, device))
        return model
    modules = model.modules_
    context.broadcast_tensors([*modules.parameters(), *modules.buffers()], device)
    source = _source(model, frame, stream, train_seed, context)
    rank_seed = np.random.SeedSequence([train_seed, context.rank]).generate_state(1)[0]
    averager = ddp._GradientAverager(context, modules, device)
    try:
        train(model, source, seeded_generator(int(rank_seed), device),
              reduce=lambda means: _mean_over_ranks(means, context, device))
    finally:
        averager.remove()
    if "modules_" in model.__dict__:
        # batch-norm statistics and other non-gradient state: rank 0's
        context.broadcast_tensors(model.modules_.buffers(), device)
    return model


def _mean_over_ranks(means, context, device):
    import torch

    keys = sorted(means)
    values = context.mean_(torch.tensor([means[k] for k in keys], dtype=torch.float64),
                           device).tolist()
    averaged = dict(zip(keys, values, strict=True))
    return {k: averaged[k] for k in means}


def _encode_fn(model, encoder):
    """DataFrame -> tuple of arrays in the model's batch view (see ``_stream_view``)."""
    if model._stream_view == "columns":
        def encode(frame):
            numerical, codes = encoder.transform_columns(frame)
            return (np.asarray(numerical, dtype=np.float32), np.asarray(codes, dtype=np.int64))
    else:
        def encode(frame):
            return (np.asarray(encoder.transform(frame), dtype=np.float32),)
    return encode


def _source(model, frame, stream, train_seed, context):
    """The batch source of this process: the whole table, or its shard in a data-parallel
    fit (every rank the same number of batches, each of about ``batch_size / world`` rows)."""
    from ._arrow import StreamBatches

    encoder, device = model.encoder_, model.device_
    if context is None and stream is None:
        return model._batch_source(encoder, frame)  # the model's own batches and sizes
    if context is None:
        return model._stream_source(encoder, stream, _encode_fn(model, encoder))
    batch_size = int(model.batch_size)
    rank, world = context.rank, context.world
    if stream is None:
        order = np.random.RandomState(train_seed % 2**32).permutation(frame.shape[0])
        shards = [np.sort(order[r::world]) for r in range(world)]
        n_batches = _shared_batches(model, [len(s) for s in shards], world)
        source = model._batch_source(encoder, frame.iloc[shards[rank]])
        source.n_batches = n_batches
        return source
    units = stream._open()[2]
    encode = _encode_fn(model, encoder)
    if len(units) >= world:
        # whole row groups: the largest first, each to the process with the fewest rows
        shares, loads = [[] for _ in range(world)], [0] * world
        for unit in sorted(units, key=lambda u: (-u.n_rows, u.offset)):
            r = min(range(world), key=lambda i: (loads[i], i))
            shares[r].append(unit)
            loads[r] += unit.n_rows
        n_batches = _shared_batches(model, loads, world)
        mine = sorted(shares[rank], key=lambda u: u.offset)
        return StreamBatches(stream, encode, batch_size, device, units=mine,
                             n_batches=n_batches)
    n = sum(u.n_rows for u in units)  # fewer row groups than processes: every world-th row
    loads = [len(range(r, n, world)) for r in range(world)]
    return StreamBatches(stream, encode, batch_size, device, stride=(rank, world),
                         n_batches=_shared_batches(model, loads, world))


def _shared_batches(model, loads, world):
    """Batches per epoch for every process: ``batch_size`` rows per step over all of them."""
    least = min(loads)
    n_batches = max(1, math.ceil(least * world / int(model.batch_size)))
    if least < 2 * n_batches:
        raise ValueError(
            f"{type(model).__name__}: with {world} processes each takes batch_size / {world} "
            f"rows per step, and the process with the fewest rows has {least} for "
            f"{n_batches} steps per epoch; batch norm needs at least 2 rows per step. Raise "
            f"batch_size (batch_size={model.batch_size!r}), or use fewer processes"
            + (" or smaller row groups." if least else ": one holds no rows."))
    return n_batches


def partial_train(model, X, y=None):
    """``partial_fit``: the first call is ``fit(X, y)``; a later one runs the model's phases
    once more over ``X`` (``y`` joined as the first call's target) with the fitted encoder
    (whose layout the first chunk fixed), adding to ``history_`` and ``n_iter_``. The
    generator of a call is seeded from the fit's seeds and the number of epochs so far: the
    same chunks in the same order give the same model."""
    from ._validation import check_frame
    from .base import _join_target
    from .nn._core import seeded_generator

    if "modules_" not in model.__dict__:
        return model.fit(X, y)
    model._validate_params()
    frame = check_frame(X)
    targets = list(getattr(model, "target_names_", []) or [])
    if targets and y is None:
        raise ValueError(
            f"The first partial_fit call had a target y ({targets[0]!r}); pass y with every "
            "chunk.")
    if y is not None and not targets:
        raise ValueError("The first partial_fit call had no target y; a later chunk cannot "
                         "add one.")
    if frame.shape[1] != model.n_features_in_:
        raise ValueError(
            f"X has {frame.shape[1]} features, but {type(model).__name__} is expecting "
            f"{model.n_features_in_} features as input (the columns of the first partial_fit "
            "chunk).")
    if targets:
        frame, _ = _join_target(frame, y, name=targets[0])
    source = model._batch_source(model.encoder_, frame)
    seed = np.random.SeedSequence([int(model._sample_seed), int(model.n_iter_)])
    train(model, source, seeded_generator(int(seed.generate_state(1)[0]), model.device_),
          resume=True)
    return model
