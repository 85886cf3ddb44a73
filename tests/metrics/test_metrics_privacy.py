"""Privacy metrics flag a copying synthesizer, copied identifiers and copied rare values."""

import numpy as np
import pandas as pd
import pytest

from skmixsynth.metrics import (
    dcr_ratio,
    exact_copy_rate,
    rare_value_copy_details,
    rare_value_copy_rate,
)


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


# --------------------------------------------------------- identifiers and rare values
LETTERS = list("abcdefghijklmnopqrstuvwxyz")


def with_emails(frame, seed):
    """The table with an e-mail column: one address per row, never repeated."""
    rng = np.random.default_rng(seed)
    users = ["".join(rng.choice(LETTERS, 8)) for _ in range(len(frame))]
    domains = rng.choice(["gmail.com", "yahoo.fr", "corp.example.org"], len(frame))
    emails = [f"{u}.{seed}.{i}@{d}" for i, (u, d) in enumerate(zip(users, domains, strict=True))]
    return frame.assign(email=emails)


@pytest.fixture(scope="module")
def email_tables(make_frame):
    return {
        "train": with_emails(make_frame(400, seed=30), seed=30),
        "holdout": with_emails(make_frame(400, seed=31), seed=31),
        "other": with_emails(make_frame(400, seed=32), seed=32),
    }


def fresh_emails(train, n, seed=0):
    from types import SimpleNamespace

    from skmixsynth._protection import IdentifierColumn

    column = IdentifierColumn().fit(
        train["email"], name="email", settings=SimpleNamespace(min_count=5, random_state=seed)
    )
    return column.decode(np.empty((n, 0)), np.empty((n, 0)), np.random.RandomState(seed))


def test_copied_emails_read_as_a_leak(email_tables, doubles):
    """What IndependentSynthesizer did with an e-mail column: every column drawn on its own,
    the e-mails among them. No whole row is copied, yet every row names a training person."""
    train, holdout = email_tables["train"], email_tables["holdout"]
    fake = doubles["shuffle"]().fit(train).sample(400, random_state=0)
    assert fake["email"].isin(set(train["email"])).all()
    # before: whole rows compared, the e-mail one-hot in the distance
    assert exact_copy_rate(train, fake, identifiers=None) == 0.0
    assert dcr_ratio(train, fake, holdout, identifiers=None) > 0.9
    # now
    assert exact_copy_rate(train, fake) == 1.0
    assert rare_value_copy_rate(train, fake) == 1.0
    assert dcr_ratio(train, fake, holdout) == 0.0
    details = rare_value_copy_details(train, fake).set_index("column")
    assert details.loc["email", "identifier"]
    assert details.loc["email", "n_rare_values"] == 400
    assert details.loc["email", "copy_rate"] == 1.0
    assert details.loc["email", "n_values_copied"] == fake["email"].nunique()
    assert not details.drop(index="email")["identifier"].any()


def test_fresh_emails_and_a_real_holdout_read_as_safe(email_tables):
    train, holdout, other = email_tables["train"], email_tables["holdout"], email_tables["other"]
    fresh = other.assign(email=fresh_emails(train, len(other)).to_numpy())
    for rows in (fresh, holdout):
        assert exact_copy_rate(train, rows) == 0.0
        assert rare_value_copy_rate(train, rows) == 0.0
        assert 0.7 < dcr_ratio(train, rows, other if rows is holdout else holdout) < 1.4


def test_a_copy_with_a_fresh_identifier_is_still_a_copy(email_tables, doubles):
    train, holdout = email_tables["train"], email_tables["holdout"]
    copies = doubles["copying"]().fit(train).sample(400, random_state=0)
    copies["email"] = fresh_emails(train, 400).to_numpy()
    assert exact_copy_rate(train, copies) == 1.0
    assert exact_copy_rate(train, copies, identifiers=None) == 0.0
    assert dcr_ratio(train, copies, holdout) == 0.0


def test_integer_row_ids_count_as_identifiers(make_frame):
    data = make_frame(600, seed=40).assign(row=np.arange(600))
    train, holdout = data.iloc[:300], data.iloc[300:]
    # the other columns are fresh, the ids are training ids
    fake = holdout.assign(row=train["row"].to_numpy())
    assert exact_copy_rate(train, fake) == 1.0
    assert exact_copy_rate(train, holdout) == 0.0
    assert rare_value_copy_rate(train, fake) == 1.0
    assert dcr_ratio(train, fake, holdout) == 0.0
    assert exact_copy_rate(train, fake, identifiers=["row"]) == 1.0
    assert exact_copy_rate(train, fake, identifiers=[]) == 0.0


def test_rare_values_of_ordinary_columns():
    train = pd.DataFrame(
        {
            "job": ["clerk"] * 20 + ["nurse"] * 5 + ["astronaut"] * 2,
            "n": [1.5] * 26 + [99.25],
            "k": [None] * 27,
        },
    )
    fake = pd.DataFrame(
        {"job": ["astronaut", "clerk", "nurse", "clerk"], "n": [1.5, 99.25, 1.5, 2.0],
         "k": ["x", None, None, None]},
    )
    # a level held by 2 rows, a number held by 1; a missing value is no value
    assert rare_value_copy_rate(train, fake) == 0.5
    assert rare_value_copy_rate(train, fake, min_count=2) == 0.25  # only the number
    assert rare_value_copy_rate(train, fake, min_count=1) == 0.0
    details = rare_value_copy_details(train, fake, min_count=6)
    assert details["n_rare_values"].tolist() == [2, 1, 0]
    assert details["copy_rate"].tolist() == [0.5, 0.25, 0.0]
    assert details["n_values_copied"].tolist() == [2, 1, 0]
    assert list(details.columns) == [
        "column", "kind", "identifier", "n_rare_values", "copy_rate", "n_values_copied",
    ]
    with pytest.raises(ValueError, match="min_count must be a positive integer; got 0"):
        rare_value_copy_rate(train, fake, min_count=0)


def test_every_column_an_identifier(email_tables):
    train, holdout = email_tables["train"][["email"]], email_tables["holdout"][["email"]]
    assert dcr_ratio(train, train, holdout) == 0.0
    fresh = pd.DataFrame({"email": fresh_emails(email_tables["train"], 300).to_numpy()})
    assert dcr_ratio(train, fresh, holdout) == 1.0
    assert exact_copy_rate(train, fresh) == 0.0


def test_identifiers_parameter_errors(email_tables):
    train = email_tables["train"]
    with pytest.raises(ValueError, match=r"identifiers \['nope'\] are not columns"):
        exact_copy_rate(train, train, identifiers=["nope"])
    with pytest.raises(ValueError, match="identifiers must be 'auto'"):
        exact_copy_rate(train, train, identifiers="email")
    with pytest.raises(TypeError, match="identifiers must be 'auto'"):
        dcr_ratio(train, train, train, identifiers=3)
