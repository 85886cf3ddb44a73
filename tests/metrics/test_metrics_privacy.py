"""Privacy metrics flag a copying synthesizer."""

import numpy as np
import pandas as pd
import pytest

from skmixsynth.metrics import dcr_ratio, exact_copy_rate


@pytest.fixture(scope="module")
def split(make_frame):
    return make_frame(400, seed=20), make_frame(400, seed=21)


def test_copying_synthesizer_is_flagged(split, doubles):
    train, holdout = split
    copier = doubles["copying"]().fit(train)
    copies = copier.sample(400, random_state=0)
    assert exact_copy_rate(train, copies) == 1.0
    assert dcr_ratio(train, copies, holdout) == 0.0


def test_real_holdout_is_not_flagged(split):
    train, holdout = split
    assert exact_copy_rate(train, holdout) == 0.0
    assert 0.7 < dcr_ratio(train, holdout.iloc[:200], holdout.iloc[200:]) < 1.4


def test_near_copies_have_a_small_dcr_ratio_but_no_exact_copies(split, doubles):
    train, holdout = split
    near = doubles["copying"](noise=0.01).fit(train).sample(400, random_state=0)
    assert exact_copy_rate(train, near.assign(x=near["x"] + 1e-9)) == 0.0
    assert dcr_ratio(train, near, holdout) < 0.5


def test_copy_rate_counts_partial_copies(split):
    train, holdout = split
    mixed = pd.concat([train.iloc[:100], holdout.iloc[:300]], ignore_index=True)
    assert exact_copy_rate(train, mixed) == pytest.approx(0.25)


def test_copy_rate_compares_values_not_dtypes():
    train = pd.DataFrame({"n": [1, 2, 3], "c": pd.Categorical(["a", "b", None])})
    fake = pd.DataFrame({"n": [1.0, 2.0, 3.0], "c": ["a", "x", None]})
    assert exact_copy_rate(train, fake) == pytest.approx(2 / 3)


def test_dcr_subsampling_is_seeded_and_capped(split, doubles):
    train, holdout = split
    fake = doubles["copying"](noise=0.2).fit(train).sample(400, random_state=0)
    small = dcr_ratio(train, fake, holdout, max_samples=50, random_state=3)
    assert small == dcr_ratio(train, fake, holdout, max_samples=50, random_state=3)
    full = dcr_ratio(train, fake, holdout)
    assert small == pytest.approx(full, rel=0.5)
    with pytest.raises(ValueError, match="max_samples"):
        dcr_ratio(train, fake, holdout, max_samples=0)


def test_dcr_with_duplicated_tables():
    train = pd.DataFrame({"c": ["a", "b"] * 50})
    # every hold-out row has a twin in train: the ratio is 1 if the synthetic rows do too
    assert dcr_ratio(train, train.iloc[:10], train.iloc[10:20]) == 1.0
    assert np.isinf(dcr_ratio(train, pd.DataFrame({"c": ["z"] * 5}), train.iloc[:5]))


def test_dcr_sparse_path_matches_dense(split, doubles, monkeypatch):
    from skmixsynth.metrics import _privacy

    train, holdout = split
    fake = doubles["copying"](noise=0.2).fit(train).sample(300, random_state=0)
    dense = dcr_ratio(train, fake, holdout)
    monkeypatch.setattr(_privacy, "_MAX_DENSE_ENTRIES", 0)
    assert dcr_ratio(train, fake, holdout) == pytest.approx(dense, rel=1e-6)
