"""Detection score (SDMetrics' definition, gradient-boosting classifier)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from skmixsynth.metrics import detection_score


def test_detection_is_seeded_and_in_range(real, variants):
    first = detection_score(real, variants["noisy"], random_state=1)
    assert first == detection_score(real, variants["noisy"], random_state=1)
    assert 0.0 <= first <= 1.0


def test_perfectly_separable_tables_score_zero():
    real = pd.DataFrame({"x": np.arange(200.0), "c": ["a"] * 200})
    fake = pd.DataFrame({"x": np.arange(200.0) + 1000, "c": ["a"] * 200})
    assert detection_score(real, fake) == pytest.approx(0.0, abs=0.01)


def test_logistic_classifier_reproduces_logistic_detection(real, variants):
    """A linear model cannot see a broken non-linear dependency that boosting sees."""
    shuffled = variants["shuffled"]
    logistic = detection_score(real, shuffled, classifier=LogisticRegression())
    boosted = detection_score(real, shuffled)
    assert logistic > 0.6  # marginals are identical: a linear model on them is near chance
    assert boosted < 0.3


def test_unseen_categories_and_missing_values(real, holdout):
    fake = holdout.copy()
    fake.loc[fake.index[:30], "d"] = "brand-new"
    fake.loc[fake.index[30:60], "x"] = np.nan
    for classifier in (None, LogisticRegression()):
        assert 0.0 <= detection_score(real, fake, classifier=classifier) < 1.0


def test_unequal_sizes_and_bad_arguments(real, holdout):
    assert np.isfinite(detection_score(real, holdout.iloc[:150]))
    with pytest.raises(ValueError, match="n_splits"):
        detection_score(real, holdout, n_splits=1)
    with pytest.raises(ValueError, match="at least n_splits=3 rows"):
        detection_score(real, holdout.iloc[:2])
