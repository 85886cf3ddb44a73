"""The epoch loop of ``BaseSynthesizer.fit``: phases, progress, history and watch-dogs.

Pure plumbing around the model's hooks (``_phases``, ``_start_phase``, ``_train_step``,
``_on_fit_end``); see ``DEVELOPERS.md`` for what each hook must do.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["Progress", "train"]

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


def train(model, source, generator):
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
    """
    model.history_ = []
    model.n_iter_ = 0
    batches_per_epoch = source.n_batches
    phases = [(name, int(n)) for name, n in model._phases(batches_per_epoch) if n > 0]
    bar = _progress_bar(sum(n for _, n in phases), model.verbose, type(model).__name__)
    snapshot = None
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
                record.update({k: float(v) / n_batches for k, v in sums.items()})
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
