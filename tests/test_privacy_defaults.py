"""The synthesizers' default protection, end to end: identifiers and rare values never leave
the training table, neither in the samples nor in the saved model, and the privacy scores tell
a leaking model from a protected one."""

import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from skmixsynth import (
    GTCoderSynthesizer,
    IndependentSynthesizer,
    MixGANSynthesizer,
    MixtureSynthesizer,
)
from skmixsynth.metrics import evaluate, exact_copy_rate, rare_value_copy_rate


def _people(n, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "email": [f"{''.join(rng.choice(list('abcdefgh'), 6))}.{rng.integers(10**6)}"
                  f"@mail{rng.integers(4)}.com" for _ in range(n)],
        "age": rng.integers(18, 80, n),
        "city": rng.choice(["Oslo", "Rome", "Lima"], n).astype(object),
        "income": rng.lognormal(10, 0.5, n),
    })
    return frame


@pytest.fixture(scope="module")
def table():
    train = _people(400, 0)
    train.loc[0, "age"] = 150  # one person's outlier
    train.loc[[1, 2], "city"] = "Atlantis"  # a level two people share
    return train, _people(400, 1)


MODELS = {
    "independent": lambda **kw: IndependentSynthesizer(random_state=0, device="cpu", **kw),
    "mixgan": lambda **kw: MixGANSynthesizer(epochs=2, ae_epochs=2, random_state=0,
                                             device="cpu", **kw),
    "gtcoder": lambda **kw: GTCoderSynthesizer(epochs=2, random_state=0, device="cpu", **kw),
    "mixture": lambda **kw: MixtureSynthesizer(random_state=0, device="cpu", **kw),
}


def _numbers(value):
    """Every number stored in a JSON document."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


@pytest.mark.parametrize("name", sorted(MODELS))
def test_defaults_keep_identifiers_and_rare_values_in(name, table, tmp_path):
    train, _ = table
    with pytest.warns(UserWarning, match="'email' looks like an identifier"):
        model = MODELS[name]().fit(train)
    fake = model.sample(3000, random_state=0)
    assert list(fake.columns) == list(train.columns)
    assert not fake["email"].isin(train["email"]).any()
    assert fake["email"].str.fullmatch(r"[a-z0-9]+\.[0-9]+@[a-z0-9]+\.com").all()
    assert "Atlantis" not in set(fake["city"])
    assert fake["age"].max() < 150

    path = model.save(tmp_path / "model.pt")
    with zipfile.ZipFile(path) as archive:
        raw = b"".join(archive.read(n) for n in archive.namelist())
    assert not any(email.encode() in raw for email in train["email"])
    assert b"Atlantis" not in raw
    config = json.loads(torch.load(path, weights_only=True)["config"])
    assert 150 not in _numbers(config["encoder"])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_privacy_scores_tell_the_leak_from_the_protection(name, table):
    train, holdout = table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        leaky = MODELS[name](min_count=None, identifiers=None).fit(train)
        safe = MODELS[name]().fit(train)
    leaked = leaky.sample(len(train), random_state=0)
    protected = safe.sample(len(train), random_state=0)
    # without protection every row carries a real person's email
    assert leaked["email"].isin(train["email"]).all()
    assert exact_copy_rate(train, leaked) == 1.0
    assert rare_value_copy_rate(train, leaked) == 1.0
    assert exact_copy_rate(train, protected) == 0.0
    assert rare_value_copy_rate(train, protected) <= rare_value_copy_rate(train, holdout) + 0.02

    def verdict(fake):
        report = evaluate(train, fake, holdout=holdout, train=train, figures=False)
        return report.info["privacy_verdict"]

    assert verdict(leaked) == "leak"
    assert verdict(protected) == "safe"


def test_score_compares_only_the_modelled_columns(table):
    train, holdout = table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fresh = IndependentSynthesizer(random_state=0).fit(train)
        dropped = IndependentSynthesizer(identifiers="drop", random_state=0).fit(train)
    assert "email" not in dropped.sample(5, random_state=0).columns
    # fresh emails would score 0 on their column shape; the identifier is left out of score
    assert fresh.score(holdout) == pytest.approx(dropped.score(holdout))
    assert fresh.score(holdout) > 0.8
