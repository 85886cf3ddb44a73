"""Conditional sampling: ``sample(n, conditions=...)`` for every synthesizer.

The conditions are encoded once with ``encoder_.encode_partial`` into per-column views with
free slots (NaN numericals, -1 codes). A model with a native conditional path fills them in
``_generate_conditional``; every other model gets the fallback here, exact by construction:
rejection in encoded space. Candidate rows are generated in rounds; a candidate is accepted
for a requested row when its codes equal the row's fixed codes and each fixed numerical
slot is within ``model._condition_tolerance`` of the fixed value on the encoder's (0, 1)
scale. Requested rows with the same condition share their candidates (a dict condition is one
group), and each group may draw at most ``max(model._condition_draws_per_row * rows,
model._condition_min_draws)`` candidates; past that budget the call raises a ValueError naming
the condition and the acceptance rate reached, never returns fewer rows. Finally the
conditioned columns of the decoded rows are set to exactly the given values.

A numerical column may also be conditioned on a range: a ``pandas.Interval`` (``{"age":
pd.Interval(30, 40)}``). Its bounds are clipped to the training range and mapped to the
encoder's (0, 1) scale; the column's state is fixed to ``present``. A model whose
``_generate_in_ranges`` is native draws within them; the fallback accepts candidates whose
value lies between them. The decoded values are then clipped to the range, so that rounding
in the decoder (an integer column) cannot step out of it. A range that holds point masses
of the column (separate states, such as zero capital gains) leaves the state free and goes
to the fallback, which also accepts a candidate whose state is one of those masses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ._columns import DatetimeColumn, NumericalColumn
from ._sampling import MAX_SEED, check_n_samples, generate_frame, generate_views
from .nn._core import seeded_generator

__all__ = ["sample_conditional"]


def sample_conditional(model, n_samples, conditions, rng):
    """Rows of ``model`` that honour ``conditions`` (see ``BaseSynthesizer.sample``)."""
    frame, n_samples = _condition_frame(conditions, n_samples)
    ranges = _ranges(model.encoder_, frame)
    fixed_num, fixed_codes = model.encoder_.encode_partial(frame.drop(columns=list(ranges)))
    if frame.shape[1] == 0 or n_samples == 0:
        return generate_frame(model, n_samples, rng)
    lay = model.encoder_.layout_
    bounds = np.full((2, *fixed_num.shape), np.nan)
    # a range holding point masses: the column's state is free, and a candidate is accepted
    # with a value on the scale within the bounds or with a point mass inside the range
    states = {}
    for column, (_, _, lo_u, hi_u, mass_codes) in ranges.items():
        bounds[0][:, lay.numerical_position(column)] = lo_u
        bounds[1][:, lay.numerical_position(column)] = hi_u
        state = lay.discrete_position(column)
        if mass_codes is not None:
            states[column] = (state, mass_codes)
        elif state is not None:
            fixed_codes[:, state] = 0  # a value on the scale: "present"
    torch_seed, decode_seed = (int(s) for s in rng.randint(MAX_SEED, size=2))
    generator = seeded_generator(torch_seed, model.device_)
    if len(frame) == 1 and n_samples != 1:  # a dict: one condition for every row
        frame = frame.loc[np.zeros(n_samples, dtype=np.intp)].reset_index(drop=True)
        fixed_num = np.repeat(fixed_num, n_samples, axis=0)
        fixed_codes = np.repeat(fixed_codes, n_samples, axis=0)
        bounds = np.repeat(bounds, n_samples, axis=1)
        # the clipping bounds per row (the masses' codes went to ``states``)
        ranges = {c: (np.repeat(r[0], n_samples), np.repeat(r[1], n_samples))
                  for c, r in ranges.items()}
        states = {c: (j, np.repeat(m, n_samples, axis=0)) for c, (j, m) in states.items()}
    model.modules_.eval()
    views = None
    if not states:  # the native paths condition the state on "present"
        views = _native(model, fixed_num, fixed_codes, generator, bounds if ranges else None)
    if views is None:
        views = _rejection(model, frame, fixed_num, fixed_codes, generator,
                           bounds if ranges else None, states)
    out = model.encoder_.inverse_transform_columns(*views, random_state=decode_seed)
    for column in frame.columns:
        if column in ranges:
            lo, hi = ranges[column][:2]
            on_scale = (views[1][:, states[column][0]] == 0 if column in states
                        else np.ones(len(out), dtype=bool))
            out[column] = _clip(out[column], lo, hi, on_scale)
        else:
            out[column] = _exact(frame[column], out[column], column)
    return out


def _ranges(encoder, frame):
    """The range conditions of ``frame`` (columns whose values are ``pandas.Interval``):
    ``{column: (lo, hi, lo_u, hi_u)}``, per row, the bounds in the column's units (clipped to
    the training range; whole units inward for an integer column) and on its (0, 1) scale."""
    out = {}
    names = {str(n): i for i, n in enumerate(encoder._names)}
    for column in frame.columns:
        values = frame[column].to_numpy()
        is_range = np.array([isinstance(v, pd.Interval) for v in values])
        if not is_range.any():
            continue
        if not is_range.all():
            raise ValueError(f"Column {column!r}: a range condition (pandas.Interval) must be "
                             "given in every row of the conditions; some rows hold other "
                             "values.")
        i = names.get(str(column))
        position = encoder.layout_.numerical_position(column)
        col = encoder.column_encoders_[i] if i is not None else None
        if (position is None or not isinstance(col, NumericalColumn)
                or isinstance(col, DatetimeColumn)):
            raise ValueError(f"Column {column!r} cannot be conditioned on a range: ranges are "
                             "for numerical columns (a datetime column takes exact values).")
        st = col.state_
        try:
            lo = np.array([float(v.left) for v in values])
            hi = np.array([float(v.right) for v in values])
        except (TypeError, ValueError):
            raise ValueError(f"Column {column!r} cannot be conditioned on {values[0]}: a range "
                             "takes numbers at both ends.") from None
        open_left = np.array([v.open_left for v in values])
        open_right = np.array([v.open_right for v in values])
        masses = np.asarray(st.masses, dtype=np.float64)[None, :]
        inside = (np.where(open_left[:, None], masses > lo[:, None], masses >= lo[:, None])
                  & np.where(open_right[:, None], masses < hi[:, None], masses <= hi[:, None]))
        if st.integer:  # whole units inside the interval
            lo = np.where(open_left & (lo == np.floor(lo)), lo + 1, np.ceil(lo))
            hi = np.where(open_right & (hi == np.ceil(hi)), hi - 1, np.floor(hi))
        lo, hi = np.maximum(lo, st.minimum), np.minimum(hi, st.maximum)
        empty = lo > hi
        if (empty & ~inside.any(axis=1)).any():
            example = values[np.argmax(empty & ~inside.any(axis=1))]
            raise ValueError(f"Column {column!r} cannot be conditioned on {example}: it holds "
                             f"no value of the training range [{st.minimum!r}, "
                             f"{st.maximum!r}]{' in whole units' if st.integer else ''}.")
        # an integer value covers half a unit either side on the scale (its mass is spread
        # there by the encoding): the whole units at the ends keep all their rows
        half = 0.5 if st.integer else 0.0
        # a value many rows hold spans a stretch of the scale: a closed end takes all of
        # it, an open end none (an integer column's ends are closed whole units by now)
        lo_left, lo_right = col.scale_ends(np.maximum(lo - half, st.minimum))
        hi_left, hi_right = col.scale_ends(np.minimum(hi + half, st.maximum))
        lo_u = np.where(open_left & (not st.integer), lo_right, lo_left)
        hi_u = np.where(open_right & (not st.integer), hi_left, hi_right)
        # a range with no value on the scale (only point masses): nothing there is accepted
        lo_u, hi_u = np.where(empty, 2.0, lo_u), np.where(empty, -1.0, hi_u)
        # point masses inside the range: their state codes (present, [missing], masses...)
        codes = None
        if inside.any():
            first = 1 + int(st.has_missing)
            codes = np.zeros((len(values), first + masses.shape[1]), dtype=bool)
            codes[:, first:] = inside
        out[column] = (lo, hi, lo_u, hi_u, codes)
    return out


def _clip(decoded, lo, hi, on_scale):
    """The decoded values of a range-conditioned column, clipped into their ranges (the rows
    ``on_scale``; a point mass is inside its range already)."""
    values = decoded.to_numpy(dtype=np.float64)
    clipped = np.where(on_scale, np.minimum(np.maximum(values, lo), hi), values)
    out = decoded.copy()
    out[:] = clipped.astype(decoded.dtype) if decoded.dtype.kind in "iuf" else clipped
    return out


def _condition_frame(conditions, n_samples):
    """The conditions as a DataFrame (one row for a dict) and the number of rows to return."""
    if isinstance(conditions, dict):
        per_row = [k for k, v in conditions.items() if np.ndim(v) != 0]
        if per_row:
            raise ValueError(
                f"A dict of conditions holds one value per column (the same for every row); "
                f"the values of {per_row} are sequences. Pass a DataFrame for per-row values."
            )
        if n_samples is None:
            raise ValueError("n_samples is needed with a dict of conditions (with a DataFrame "
                             "it defaults to the number of its rows).")
        n_samples = check_n_samples(n_samples)
        return pd.DataFrame({k: [v] for k, v in conditions.items()}, index=[0]), n_samples
    if isinstance(conditions, pd.DataFrame):
        if n_samples is not None and check_n_samples(n_samples) != len(conditions):
            raise ValueError(
                f"With a DataFrame of conditions each of its rows is one sampled row: "
                f"n_samples={n_samples!r} differs from its {len(conditions)} rows (pass "
                "n_samples=None)."
            )
        return conditions.reset_index(drop=True), len(conditions)
    raise TypeError(f"conditions must be a dict of column -> value or a DataFrame of per-row "
                    f"values; got {type(conditions).__name__}.")


def _native(model, fixed_num, fixed_codes, generator, bounds=None):
    """The model's own conditional rows, or None when it has no such path."""
    device, n, size = model.device_, fixed_num.shape[0], model._sample_batch_size
    numerical, codes = [], []
    with torch.inference_mode():
        for lo in range(0, n, size):
            num = torch.as_tensor(fixed_num[lo:lo + size], dtype=torch.float32, device=device)
            code = torch.as_tensor(fixed_codes[lo:lo + size], device=device)
            if bounds is None:
                views = model._generate_conditional(num, code, generator)
            else:
                low, high = (torch.as_tensor(b[lo:lo + size], dtype=torch.float32,
                                             device=device) for b in bounds)
                views = model._generate_in_ranges(num, code, low, high, generator)
            if views is None:
                return None
            numerical.append(views[0].to("cpu", torch.float32).numpy())
            codes.append(views[1].to("cpu", torch.int64).numpy())
    numerical, codes = np.concatenate(numerical), np.concatenate(codes)
    bad = (fixed_codes >= 0) & (codes != fixed_codes)
    if bad.any():
        raise RuntimeError(f"{type(model).__name__}._generate_conditional returned "
                           f"{int(bad.any(axis=1).sum())} rows whose levels differ from the "
                           "fixed ones.")
    return numerical, codes


def _rejection(model, frame, fixed_num, fixed_codes, generator, bounds=None, states=None):
    """Per-column views of rows accepted by rejection (see the module's docstring).

    ``states``: ``{column: (state position, accepted (n, levels) bool)}`` for ranges that
    hold point masses: a candidate passes such a column with its state ``present`` and its
    value within the bounds, or with a state the row accepts (a point mass in the range).
    """
    n = fixed_num.shape[0]
    if bounds is None:
        bounds = np.full((2, *fixed_num.shape), np.nan)
    lay = model.encoder_.layout_
    states = states or {}
    scale_of = {j: lay.numerical_position(c) for c, (j, _) in states.items()}
    # requested rows with the same condition share their candidates
    key = np.concatenate([np.nan_to_num(fixed_num, nan=-1.0), fixed_codes,
                          np.nan_to_num(bounds[0], nan=-1.0),
                          np.nan_to_num(bounds[1], nan=-1.0)]
                         + [m.astype(np.float64) for _, m in states.values()], axis=1)
    groups, first, group_of = np.unique(key, axis=0, return_index=True, return_inverse=True)
    group_of = group_of.ravel()
    g_num, g_codes = fixed_num[first], fixed_codes[first]
    g_lo, g_hi = bounds[0][first], bounds[1][first]
    g_states = [(j, m[first]) for j, m in states.values()]
    rows = np.argsort(group_of, kind="stable")  # requested rows, by group
    n_rows = np.bincount(group_of, minlength=len(groups))
    row_start = np.concatenate([[0], np.cumsum(n_rows)[:-1]])
    budget = np.maximum(model._condition_draws_per_row * n_rows, model._condition_min_draws)
    filled = np.zeros(len(groups), dtype=np.int64)
    drawn = np.zeros(len(groups), dtype=np.int64)
    accepted = np.zeros(len(groups), dtype=np.int64)
    numerical = np.empty((n, fixed_num.shape[1]), dtype=np.float32)
    codes = np.empty((n, fixed_codes.shape[1]), dtype=np.int64)
    sampler = model._sampler()
    tol = model._condition_tolerance
    while (filled < n_rows).any():
        pending = n_rows - filled
        left = budget - drawn
        stuck = (pending > 0) & (left <= 0)
        if stuck.any():
            g = int(np.flatnonzero(stuck)[0])
            raise ValueError(_budget_message(model, frame.iloc[first[g]], accepted[g],
                                             drawn[g], pending[g], n_rows[g], budget[g]))
        # draws for this round: what the acceptance rate seen so far says is enough, with a
        # margin, at least a few, within the budget and a cap on the round's memory
        rate = (accepted + 1) / (drawn + 1)
        want = np.where(pending > 0, np.ceil(pending / rate * 1.25).astype(np.int64), 0)
        want = np.where(pending > 0, np.maximum(want, 32), 0)
        total = int(want.sum())
        if total > model._condition_round_size:
            want = np.where(pending > 0, np.maximum(
                1, want * model._condition_round_size // total), 0)
        want = np.minimum(want, left)
        cand_group = np.repeat(np.arange(len(groups)), want)
        num, code = generate_views(model, sampler, len(cand_group), generator)
        target_num, target_codes = g_num[cand_group], g_codes[cand_group]
        target_lo, target_hi = g_lo[cand_group], g_hi[cand_group]
        with np.errstate(invalid="ignore"):
            num_ok = np.isnan(target_num) | (np.abs(num - target_num) <= tol)
            num_ok &= np.isnan(target_lo) | ((num >= target_lo) & (num <= target_hi))
        for j, accepted_states in g_states:  # a point mass inside the range also passes
            level = code[:, j]
            num_ok[:, scale_of[j]] &= level == 0
            num_ok[:, scale_of[j]] |= accepted_states[cand_group, level]
        ok = num_ok.all(axis=1) & ((target_codes < 0) | (code == target_codes)).all(axis=1)
        # rank of each accepted candidate within its group; keep as many as are pending
        csum = np.concatenate([[0], np.cumsum(ok)])
        starts = np.cumsum(want) - want  # each group's first candidate
        rank = csum[1:] - csum[starts][cand_group]  # 1-based among the accepted of its group
        take = ok & (rank <= pending[cand_group])
        taken_group = cand_group[take]
        target_rows = rows[row_start[taken_group] + filled[taken_group] + rank[take] - 1]
        numerical[target_rows] = num[take]
        codes[target_rows] = code[take]
        drawn += want
        accepted += np.bincount(cand_group[ok], minlength=len(groups))
        filled += np.bincount(taken_group, minlength=len(groups))
    return numerical, codes


def _budget_message(model, condition, accepted, drawn, pending, n_rows, budget):
    condition = {k: (None if pd.isna(v) else v.item() if isinstance(v, np.generic) else v)
                 for k, v in condition.items()}
    return (
        f"{type(model).__name__} could not generate rows for the condition {condition}: "
        f"{accepted} of {drawn} generated rows met it (acceptance rate "
        f"{accepted / max(drawn, 1):.2g}), {pending} of its {n_rows} rows are still missing "
        f"and its budget of {budget} draws is spent (at most "
        f"{model._condition_draws_per_row} per requested row, at least "
        f"{model._condition_min_draws}; numerical values within "
        f"{model._condition_tolerance} on the encoder's (0, 1) scale). The model rarely "
        "generates such rows: condition on fewer columns or on more common values."
    )


def _exact(given, decoded, column):
    """The given values of a conditioned column, in the decoded column's dtype."""
    try:
        values = given.astype(decoded.dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The condition values of column {column!r} ({given.dtype}) cannot "
                         f"be cast to its training dtype {decoded.dtype}: {exc}") from exc
    values.index = decoded.index
    return values
