"""GTCoder Table 1 (ML efficacy) and Table 2 (likelihood fitness)."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from skmixsynth.metrics import likelihood_fitness, ml_efficacy


def test_ml_efficacy_classification_result(real, holdout):
    result = ml_efficacy(real.iloc[:300], holdout.iloc[:200], target="c")
    assert result["task"] == "classification"
    assert list(result["per_estimator"]) == ["decision_tree", "random_forest", "adaboost"]
    for key in ("macro_f1", "weighted_f1"):
        values = [v[key] for v in result["per_estimator"].values()]
        assert result[key] == pytest.approx(np.mean(values))
        assert 0.0 <= result[key] <= 1.0


def test_ml_efficacy_regression(real, variants):
    good = ml_efficacy(real.iloc[:300], variants["holdout"].iloc[:200], target="y")
    assert good["task"] == "regression"
    assert list(good["per_estimator"]) == ["ridge", "linear_regression", "gradient_boosting"]
    assert good["r2"] > 0.8
    bad = ml_efficacy(variants["shuffled"].iloc[:300], real.iloc[:200], target="y")
    assert bad["r2"] < 0.1


def test_ml_efficacy_task_override(real, holdout):
    # the boolean flag is categorical; an integer label can be forced to classes
    frame = real.assign(k=(real["x"] > 0).astype(int))
    test = holdout.assign(k=(holdout["x"] > 0).astype(int))
    result = ml_efficacy(frame.iloc[:200], test.iloc[:100], target="k", task="classification")
    assert result["task"] == "classification" and result["macro_f1"] > 0.9
    with pytest.raises(ValueError, match="task must be one of"):
        ml_efficacy(frame, test, target="k", task="ranking")
    with pytest.raises(ValueError, match="needs a numerical target"):
        ml_efficacy(frame, test, target="c", task="regression")
    with pytest.raises(ValueError, match="target 'nope' is not a column"):
        ml_efficacy(frame, test, target="nope")


def test_ml_efficacy_single_class_synthetic_target_is_scored(real, holdout):
    one_class = real.iloc[:200].assign(c="mid")
    result = ml_efficacy(one_class, holdout.iloc[:150], target="c")
    # every model predicts "mid": F1 is that class's F1 averaged over the three real classes
    share_mid = (holdout["c"].iloc[:150] == "mid").mean()
    f1_mid = 2 * share_mid / (1 + share_mid)
    assert result["macro_f1"] == pytest.approx(f1_mid / 3)
    assert result["weighted_f1"] == pytest.approx(f1_mid * share_mid)


def test_ml_efficacy_missing_values_and_unseen_categories(real, holdout):
    synthetic = real.iloc[:200].copy()
    synthetic.loc[synthetic.index[:20], "c"] = None  # dropped (target missing)
    synthetic.loc[synthetic.index[:30], "x"] = np.nan  # imputed
    test = holdout.iloc[:100].copy()
    test.loc[test.index[:10], "d"] = "never-seen"
    result = ml_efficacy(synthetic, test, target="c")
    assert result["macro_f1"] > 0.8


def test_ml_efficacy_custom_estimators(real, holdout):
    result = ml_efficacy(
        real.iloc[:200],
        holdout.iloc[:100],
        target="c",
        estimators={"tree": DecisionTreeClassifier(random_state=0), "logit": LogisticRegression()},
    )
    assert list(result["per_estimator"]) == ["tree", "logit"]
    listed = ml_efficacy(
        real.iloc[:200], holdout.iloc[:100], target="c", estimators=[LogisticRegression()]
    )
    assert list(listed["per_estimator"]) == ["LogisticRegression"]


GRID_STD = np.sqrt(0.05)


def _grid_log_density(points, std=GRID_STD):
    """The 'grid' simulation of SDGym: 25 Gaussians on {-4,-2,0,2,4}^2, covariance 0.05 I."""
    means = np.array([(a, b) for a in range(-4, 5, 2) for b in range(-4, 5, 2)], dtype=float)
    sq = ((points[:, None, :] - means[None]) ** 2).sum(-1)
    log_comp = -sq / (2 * std**2) - np.log(2 * np.pi * std**2)
    return logsumexp(log_comp, axis=1) - np.log(len(means))


def _grid_sample(n, rng):
    means = np.array([(a, b) for a in range(-4, 5, 2) for b in range(-4, 5, 2)], dtype=float)
    points = means[rng.integers(len(means), size=n)] + rng.normal(scale=np.sqrt(0.05), size=(n, 2))
    return pd.DataFrame(points, columns=["x", "y"])


def test_likelihood_fitness_on_the_grid_simulation():
    rng = np.random.default_rng(0)
    test = _grid_sample(1500, rng)
    faithful = likelihood_fitness(_grid_sample(1500, rng), test, _grid_log_density, n_components=25)
    # mode collapse: every point on one component -- high L_syn, very poor L_test
    collapsed = _grid_sample(1500, rng)
    collapsed[["x", "y"]] = rng.normal(scale=np.sqrt(0.05), size=(1500, 2))
    collapsed = likelihood_fitness(collapsed, test, _grid_log_density, n_components=25)
    # blur: points spread over the square -- poor L_syn
    blurred = pd.DataFrame(rng.uniform(-5, 5, size=(1500, 2)), columns=["x", "y"])
    blurred = likelihood_fitness(blurred, test, _grid_log_density, n_components=25)
    assert faithful["l_syn"] == pytest.approx(_grid_log_density(test.to_numpy()).mean(), abs=0.15)
    assert collapsed["l_syn"] > faithful["l_syn"] - 0.2
    assert collapsed["l_test"] < faithful["l_test"] - 5
    assert blurred["l_syn"] < faithful["l_syn"] - 2
    assert blurred["l_test"] < faithful["l_test"]


def test_likelihood_fitness_default_components_follow_sdgym():
    rng = np.random.default_rng(1)
    data = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    result = likelihood_fitness(data, data, lambda p: np.zeros(len(p)))
    assert sorted(result["l_test_per_n_components"]) == [10, 30]
    assert result["l_test"] == pytest.approx(
        np.mean(list(result["l_test_per_n_components"].values()))
    )
    assert result["l_syn"] == 0.0
    with pytest.raises(ValueError, match="log_density returned 1 values"):
        likelihood_fitness(data, data, lambda p: np.zeros(1))
    with pytest.raises(TypeError, match="callable"):
        likelihood_fitness(data, data, None)
