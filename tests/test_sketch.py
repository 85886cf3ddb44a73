"""The quantile sketch behind ``MixedTypeEncoder.partial_fit`` (``skmixsynth/_sketch.py``).

Every check compares the sketch with the exact answer on the same rows (``np.quantile``, sorted
arrays, ``np.unique``) and holds it to the bound the module documents: the certified
``rank_error`` the sketch reports, itself never above the a-priori ``rank_error_bound``.
"""

import json
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skmixsynth._sketch import QuantileSketch, rank_error_bound

LEVELS = np.linspace(0.0, 1.0, 201)


def _data(kind, n, seed=0):
    rng = np.random.RandomState(seed)
    if kind == "uniform":
        return rng.uniform(-5.0, 5.0, n)
    if kind == "heavy_tailed":
        return rng.standard_cauchy(n) * 1e3
    if kind == "discrete":
        return rng.poisson(4.0, n).astype(np.float64)
    if kind == "point_mass":  # zero capital gains: 70 % zeros, 12 % a second mass, a long tail
        u = rng.uniform(size=n)
        tail = np.round(rng.lognormal(8.0, 1.5, n))
        return np.where(u < 0.7, 0.0, np.where(u < 0.82, 99999.0, tail))
    if kind == "sorted":  # adversarial order for a stream
        return np.sort(rng.normal(size=n))
    raise ValueError(kind)


def _sketch(data, chunk=10_000, **params):
    sketch = QuantileSketch(**params)
    for start in range(0, data.size, chunk):
        sketch.update(data[start : start + chunk])
    return sketch


def _rank_errors(sketch, data, points):
    """Largest |estimated - true| number of values <= x over ``points``."""
    ordered = np.sort(data)
    true = np.searchsorted(ordered, points, side="right")
    return int(np.max(np.abs(sketch.rank(points) - true)))


def _quantile_rank_error(values, levels, rest):
    """Largest distance from q (n - 1) to the true rank interval [#<v, #<=v - 1] of each v."""
    ordered = np.sort(rest)
    below = np.searchsorted(ordered, values, side="left")
    upto = np.searchsorted(ordered, values, side="right") - 1
    target = levels * (ordered.size - 1)
    return float(np.max(np.maximum(below - target, target - upto).clip(min=0)))


def _probe_points(data, rng):
    inside = rng.choice(data, 500)
    return np.concatenate([inside, np.nextafter(inside, -np.inf), [data.min() - 1, data.max()]])


@pytest.mark.parametrize("kind", ["uniform", "heavy_tailed", "discrete", "point_mass", "sorted"])
def test_rank_error_is_within_the_certified_bound(kind):
    data = _data(kind, 200_000)
    sketch = _sketch(data, k=256, random_state=0)
    assert sketch.n == data.size and sketch.n_missing == 0
    assert 0 <= sketch.rank_error <= rank_error_bound(data.size, 256)
    if kind != "discrete":  # discrete: few distinct values, all counted exactly in the table
        assert sketch.rank_error > 0  # compactions happened: the bound is exercised
    assert _rank_errors(sketch, data, _probe_points(data, np.random.RandomState(1))) <= (
        sketch.rank_error
    )
    q = sketch.quantiles(LEVELS)
    assert np.all(np.diff(q) >= 0)
    assert _quantile_rank_error(q, LEVELS, data) <= sketch.rank_error + 1
    assert q[0] == data.min() and q[-1] == data.max()
    assert sketch.min == data.min() and sketch.max == data.max()


@pytest.mark.parametrize("kind", ["uniform", "heavy_tailed", "point_mass"])
def test_quantiles_against_np_quantile(kind):
    """Within the bound, in ranks, of ``np.quantile`` on the same rows."""
    data = _data(kind, 100_000, seed=3)
    sketch = _sketch(data, k=512, random_state=1)
    q = sketch.quantiles(LEVELS)
    exact = np.quantile(data, LEVELS)
    ordered = np.sort(data)
    gap = np.abs(np.searchsorted(ordered, q) - np.searchsorted(ordered, exact))
    assert gap.max() <= sketch.rank_error + 1


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.integers(1, 300),
        elements=st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 1.0, -2.5])
        ),
    ),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20),
)
def test_exact_while_small_equals_np_quantile(data, levels):
    sketch = QuantileSketch(k=512, max_values=16).update(data)
    assert sketch.rank_error == 0
    np.testing.assert_array_equal(sketch.quantiles(levels), np.quantile(data, levels))
    assert sketch.quantiles(0.5) == np.quantile(data, 0.5)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.integers(1, 3000),
        elements=st.one_of(
            st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from([0.0, 7.0, float("nan")])
        ),
    ),
    st.integers(1, 5),
    st.sampled_from([4, 8, 32]),
    st.integers(0, 2**31 - 1),
)
def test_any_chunking_and_merge_tree_stays_within_the_bound(data, n_parts, k, seed):
    """Update in chunks, merge the chunks' sketches in a random tree: the bound still holds."""
    rng = np.random.RandomState(seed)
    cuts = np.sort(rng.randint(0, data.size + 1, n_parts - 1))
    parts = [
        QuantileSketch(k, max_values=4, n_extremes=3, random_state=i).update(chunk)
        for i, chunk in enumerate(np.split(data, cuts))
    ]
    while len(parts) > 1:
        i, j = sorted(rng.choice(len(parts), 2, replace=False))
        right = parts.pop(j)
        parts[i] = parts[i].merge(right)
    (sketch,) = parts
    finite = data[~np.isnan(data)]
    assert sketch.n == finite.size and sketch.n_missing == data.size - finite.size
    assert sketch.rank_error <= rank_error_bound(finite.size, k)
    assert sketch.table_error <= finite.size / (4 + 1)
    if finite.size:
        points = np.concatenate([finite, finite - 0.5])
        assert _rank_errors(sketch, finite, points) <= sketch.rank_error
        q = sketch.quantiles(LEVELS)
        assert _quantile_rank_error(q, LEVELS, finite) <= sketch.rank_error + 1
        assert (sketch.min, sketch.max) == (finite.min(), finite.max())


@pytest.mark.parametrize("kind", ["uniform", "heavy_tailed", "point_mass"])
def test_merge_of_chunk_sketches_is_within_the_bound(kind):
    data = _data(kind, 300_000, seed=2)
    chunks = np.array_split(data, 12)
    sketches = [QuantileSketch(k=256, random_state=i).update(c) for i, c in enumerate(chunks)]
    # sequentially, and as a balanced tree (how workers would combine)
    sequential = QuantileSketch(k=256, random_state=99)
    for part in sketches:
        sequential.merge(part)
    tree = [QuantileSketch.from_dict(s.to_dict()) for s in sketches]
    while len(tree) > 1:
        pairs = [tree[i].merge(tree[i + 1]) for i in range(0, len(tree) - 1, 2)]
        tree = pairs + ([tree[-1]] if len(tree) % 2 else [])
    for merged in (sequential, tree[0]):
        assert merged.n == data.size
        assert merged.rank_error <= rank_error_bound(data.size, 256)
        assert _rank_errors(merged, data, _probe_points(data, np.random.RandomState(0))) <= (
            merged.rank_error
        )
        q = merged.quantiles(LEVELS)
        assert _quantile_rank_error(q, LEVELS, data) <= merged.rank_error + 1
    # merging leaves the merged-in sketches as they were
    assert [s.n for s in sketches] == [c.size for c in chunks]


def test_order_of_chunks_changes_the_result_only_within_the_bound():
    data = _data("heavy_tailed", 200_000, seed=4)
    chunks = np.array_split(data, 20)
    forward = QuantileSketch(k=128, random_state=0)
    backward = QuantileSketch(k=128, random_state=0)
    for chunk in chunks:
        forward.update(chunk)
    for chunk in chunks[::-1]:
        backward.update(chunk)
    points = _probe_points(data, np.random.RandomState(5))
    difference = np.abs(forward.rank(points) - backward.rank(points)).max()
    assert difference <= forward.rank_error + backward.rank_error
    assert not np.array_equal(forward.quantiles(LEVELS), backward.quantiles(LEVELS))
    # each quantile of one order lies within both sketches' bounds of the other's, in rank
    ordered = np.sort(data)
    gap = np.abs(
        np.searchsorted(ordered, forward.quantiles(LEVELS))
        - np.searchsorted(ordered, backward.quantiles(LEVELS))
    )
    assert gap.max() <= forward.rank_error + backward.rank_error + 2


def test_point_masses_are_detected_and_excluded():
    data = _data("point_mass", 400_000, seed=6)
    sketch = _sketch(data, chunk=50_000, k=256, random_state=0)
    values, counts = np.unique(data, return_counts=True)
    share = counts / data.size
    found, found_counts = sketch.heavy_hitters(0.1)
    np.testing.assert_array_equal(found, values[share >= 0.1])  # 0 and 99999
    true = counts[np.isin(values, found)]
    assert np.all(np.abs(found_counts - true) <= sketch.count_error)
    assert sketch.count_error <= sketch.table_error <= data.size / 257
    # quantiles of the rest, the scale a quantile encoding keeps besides the masses
    rest = data[~np.isin(data, found)]
    q = sketch.quantiles(LEVELS, exclude=found)
    bound = (1 + 2 * found.size) * sketch.rank_error + 1
    assert _quantile_rank_error(q, LEVELS, rest) <= bound
    assert q[0] == rest.min() and q[-1] == rest.max()
    np.testing.assert_array_equal(
        sketch.order_statistics([0, 4, -5, -1], exclude=found), np.sort(rest)[[0, 4, -5, -1]]
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=400),
    st.floats(0.01, 1.0),
    st.integers(1, 8),
)
def test_heavy_hitters_guarantee(values, min_share, max_values):
    data = np.asarray(values, dtype=np.float64)
    sketch = QuantileSketch(k=8, max_values=max_values).update(data[::2]).update(data[1::2])
    found, counts = sketch.heavy_hitters(min_share)
    levels, true = np.unique(data, return_counts=True)
    error = sketch.count_error
    must = levels[true >= min_share * data.size + error]
    never = levels[true < min_share * data.size - error]
    assert set(must) <= set(found) and not set(never) & set(found)
    true_of_found = true[np.searchsorted(levels, found)]
    assert np.all(np.abs(counts - true_of_found) <= error)
    # every value held by more than table_error rows is in the table
    assert set(levels[true > sketch.table_error]) <= set(sketch.heavy_hitters(1e-12)[0])


def test_discrete_column_counts_are_exact():
    data = _data("discrete", 100_000)
    sketch = _sketch(data, chunk=7_000, k=64, max_values=64)
    assert sketch.table_error == sketch.count_error == 0
    values, counts = np.unique(data, return_counts=True)
    found, found_counts = sketch.heavy_hitters(1e-9)
    np.testing.assert_array_equal(found, values)
    np.testing.assert_array_equal(found_counts, counts)
    np.testing.assert_array_equal(sketch.quantiles(LEVELS), np.quantile(data, LEVELS))


def test_extreme_order_statistics_are_exact():
    data = _data("uniform", 100_000, seed=8)
    sketch = _sketch(data, k=64, n_extremes=16, random_state=0)
    assert sketch.rank_error > 0
    positions = [0, 1, 7, 15, -16, -8, -2, -1]
    np.testing.assert_array_equal(sketch.order_statistics(positions), np.sort(data)[positions])
    with pytest.raises(ValueError, match="positions must lie in"):
        sketch.order_statistics([data.size])
    with pytest.raises(TypeError, match="positions must be integers"):
        sketch.order_statistics([0.5])


def test_memory_stays_bounded_for_a_million_values():
    n, k, m, e = 10**6, 256, 64, 16
    sketch = QuantileSketch(k, max_values=m, n_extremes=e, random_state=0)
    rng = np.random.RandomState(0)
    sizes = []
    for _ in range(100):
        sketch.update(rng.lognormal(size=n // 100))
        sizes.append(sketch.size)
    levels = int(np.floor(np.log2(n / min(k / 2, m + 1)))) + 1
    assert max(sizes) <= (k - 1) * levels + m + 2 * e
    assert max(sizes) < 0.01 * n
    # logarithmic growth: the second half of the stream adds at most a level or two
    assert sizes[-1] - sizes[49] <= 2 * k
    stored = sum(len(level) for level in sketch.to_dict()["levels"])
    assert stored <= (k - 1) * levels


def test_deterministic_for_a_seed_and_seeds_matter():
    data = _data("heavy_tailed", 50_000, seed=9)
    a = _sketch(data, chunk=3_000, k=64, random_state=7).to_dict()
    b = _sketch(data, chunk=3_000, k=64, random_state=7).to_dict()
    c = _sketch(data, chunk=3_000, k=64, random_state=8).to_dict()
    assert a == b
    assert a["levels"] != c["levels"]
    rng = np.random.RandomState(7)
    d = _sketch(data, chunk=3_000, k=64, random_state=rng).to_dict()
    assert d["levels"] == a["levels"]  # a RandomState is used as given


def test_global_rng_is_never_touched():
    before = np.random.get_state()  # noqa: NPY002 (the global generator is the subject)
    for seed in (None, 0):
        _sketch(_data("uniform", 20_000), chunk=1_000, k=16, random_state=seed)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0] and np.array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_json_round_trip_continues_the_same_stream():
    data = _data("point_mass", 60_000, seed=10)
    first, second = data[:30_000], data[30_000:]
    live = _sketch(first, chunk=5_000, k=32, random_state=3)
    saved = json.loads(json.dumps(live.to_dict()))
    restored = QuantileSketch.from_dict(saved)
    assert restored.to_dict() == live.to_dict()
    for sketch in (live, restored):
        for chunk in np.array_split(second, 6):
            sketch.update(chunk)
    assert restored.to_dict() == live.to_dict()
    np.testing.assert_array_equal(restored.quantiles(LEVELS), live.quantiles(LEVELS))
    with pytest.raises(ValueError, match="Not a saved QuantileSketch"):
        QuantileSketch.from_dict({"k": 8})


def test_missing_values_and_bad_input():
    values = np.array([1.0, np.nan, 3.0, np.nan])
    kept = values.copy()
    sketch = QuantileSketch(name="income").update(values)
    np.testing.assert_array_equal(values, kept)  # the caller's chunk is not modified
    assert (sketch.n, sketch.n_missing, sketch.min, sketch.max) == (2, 2, 1.0, 3.0)
    assert sketch.quantiles([0.5]).tolist() == [2.0]
    with pytest.raises(ValueError, match=r"Column 'income' holds infinite values \(inf\)"):
        sketch.update([1.0, np.inf])
    assert sketch.n == 2  # a rejected chunk is not half-counted
    with pytest.raises(ValueError, match="1-d chunk"):
        sketch.update(np.ones((2, 2)))
    with pytest.raises(TypeError, match="Column 'income' takes numbers"):
        sketch.update(["a", "b"])
    with pytest.raises(ValueError, match=r"levels must be .* in \[0, 1\]"):
        sketch.quantiles([1.5])
    with pytest.raises(ValueError, match="min_share must be"):
        sketch.heavy_hitters(0.0)
    empty = QuantileSketch().update([np.nan])
    assert np.isnan(empty.min) and empty.n_missing == 1
    with pytest.raises(ValueError, match="no values to take quantiles of"):
        empty.quantiles([0.5])
    with pytest.raises(ValueError, match="no values"):
        sketch.quantiles([0.5], exclude=[1.0, 3.0])


def test_bad_parameters_and_merges():
    with pytest.raises(ValueError, match="k must be an even integer >= 2; got k=7"):
        QuantileSketch(7)
    with pytest.raises(TypeError, match=r"max_values must be an integer; got max_values=2\.5"):
        QuantileSketch(max_values=2.5)
    with pytest.raises(TypeError, match="random_state must be"):
        QuantileSketch(random_state="seed")
    with pytest.raises(ValueError, match="different k: 8 and 16"):
        QuantileSketch(8).merge(QuantileSketch(16))
    with pytest.raises(TypeError, match="merge takes a QuantileSketch"):
        QuantileSketch().merge([1.0])
    only_missing = QuantileSketch().update([np.nan, np.nan])
    merged = QuantileSketch().update([2.0]).merge(only_missing)
    assert (merged.n, merged.n_missing) == (1, 2)
    doubled = QuantileSketch(8).update(np.arange(20.0))
    doubled.merge(doubled)
    assert doubled.n == 40 and doubled.rank(19.0) == 40 and doubled.min == 0.0


@pytest.mark.slow
def test_ten_million_values_in_a_few_seconds():
    rng = np.random.RandomState(0)
    chunks = [rng.standard_cauchy(10**5) for _ in range(100)]
    sketch = QuantileSketch(random_state=0)
    start = time.perf_counter()
    for chunk in chunks:
        sketch.update(chunk)
    seconds = time.perf_counter() - start
    assert sketch.n == 10**7
    assert seconds < 15, f"{seconds:.1f} s for 10**7 values (about 1 s expected)"
    assert sketch.rank_error <= rank_error_bound(10**7, 2048) < 0.007 * 10**7
