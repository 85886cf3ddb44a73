"""skmixsynth on a Dask cluster: ``sample_to_parquet(client=...)`` and ``GridSearchCV`` under
``joblib.parallel_backend("dask")``, on a ``LocalCluster`` of two worker processes.

Starting the cluster takes a few seconds (each worker imports torch): every test here is
marked slow and shares one cluster.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow", reason="pyarrow is not installed (the parquet extra)")
distributed = pytest.importorskip(
    "dask.distributed", reason="dask.distributed is not installed (the dask extra)")

import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from skmixsynth import (  # noqa: E402
    GTCoderSynthesizer,
    IndependentSynthesizer,
    MixGANSynthesizer,
    MixtureSynthesizer,
    _scale,
)
from skmixsynth.datasets import make_mixed  # noqa: E402
from skmixsynth.metrics import get_scorer  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def real():
    return make_mixed(200, missing_rate=0.05, random_state=0)


def _none_for_missing(frame):
    return frame.astype(object).where(frame.notna(), None)


# -------------------------------------------------------------------- sampling
def test_sample_to_parquet_on_the_cluster_gives_the_rows_of_one_process(client, real,
                                                                        tmp_path):
    model = MixGANSynthesizer(
        latent_dim=8, encoder_dims=(16,), decoder_dims=(16,), generator_dims=(16,),
        discriminator_dims=(16,), batch_size=64, ae_epochs=1, epochs=1, device="cpu",
        random_state=0).fit(real)
    model._sample_chunk_size = 64  # 500 rows: 8 chunks, 8 parts
    local = model.sample_to_parquet(500, tmp_path / "local", chunk_rows=64, random_state=0)
    path, records = _scale.sample_to_parquet(model, 500, tmp_path / "cluster", chunk_rows=64,
                                             random_state=0, client=client)
    workers = set(client.run(os.getpid).values())
    assert {r["pid"] for r in records} <= workers and os.getpid() not in workers
    assert [r["index"] for r in records] == list(range(8))
    assert sorted(os.listdir(path)) == sorted(os.listdir(local))
    got, expected = pd.read_parquet(path), pd.read_parquet(local)
    assert got.dtypes.equals(expected.dtypes)
    pd.testing.assert_frame_equal(_none_for_missing(got), _none_for_missing(expected))
    # the public method, and the model's stream without a seed, as in one process
    twin = MixGANSynthesizer(**model.get_params()).fit(real)
    twin._sample_chunk_size = 64
    model.sample_to_parquet(300, tmp_path / "stream", client=client, chunk_rows=128)
    pd.testing.assert_frame_equal(_none_for_missing(pd.read_parquet(tmp_path / "stream")),
                                  _none_for_missing(twin.sample(300)))
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no staging left


def test_a_failing_part_on_the_cluster_leaves_nothing(client, real, tmp_path):
    model = IndependentSynthesizer(random_state=0).fit(real)
    with pytest.raises(ValueError, match="does not exist"):
        model.sample_to_parquet(10, tmp_path / "no" / "out", client=client)
    # conditions are checked in the caller's process, before any task
    with pytest.raises(ValueError, match="mars"):
        model.sample_to_parquet(10, tmp_path / "out", client=client,
                                conditions={"region": "mars"})
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------- grid search
TINY = [
    (MixGANSynthesizer(latent_dim=8, encoder_dims=(16,), decoder_dims=(16,),
                       generator_dims=(16,), discriminator_dims=(16,), batch_size=64,
                       ae_epochs=1, epochs=1, device="cpu", random_state=0),
     {"latent_dim": [4, 8]}),
    (GTCoderSynthesizer(d_token=8, n_layers=1, n_heads=2, latent_dim=4, decoder_dims=(16,),
                        mlp_dims=(16,), n_components=3, batch_size=64, epochs=1, device="cpu",
                        random_state=0),
     {"latent_dim": [2, 4]}),
    (MixtureSynthesizer(n_components=3, n_subcomponents=2, n_groups=2, epochs=2,
                        batch_size=64, device="cpu", random_state=0),
     {"n_components": [2, 3]}),
    (IndependentSynthesizer(random_state=0), {"n_bins": [5, 20]}),
]


@pytest.mark.parametrize("estimator, grid", TINY,
                         ids=["mixgan", "gtcoder", "mixture", "independent"])
def test_grid_search_under_the_dask_backend(client, real, estimator, grid):
    scoring = {"quality": get_scorer("quality"), "detection": get_scorer("detection")}
    if isinstance(estimator, IndependentSynthesizer):  # the costly one (it trains models) once
        scoring["f1"] = get_scorer("ml_efficacy_macro_f1", target="plan")
    search = GridSearchCV(estimator, grid, cv=2, scoring=scoring, refit="quality",
                          error_score="raise")
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        on_cluster = search.set_params(n_jobs=2).fit(real)
    assert tasks.data, "no task ran on the cluster"
    local = GridSearchCV(estimator, grid, cv=2, scoring=scoring, refit="quality",
                         error_score="raise", n_jobs=1).fit(real)
    for name in scoring:
        key = f"mean_test_{name}"
        assert np.isfinite(on_cluster.cv_results_[key]).all()
        np.testing.assert_allclose(on_cluster.cv_results_[key], local.cv_results_[key])
    assert on_cluster.best_params_ == local.best_params_
    fake = on_cluster.best_estimator_.sample(20, random_state=0)
    assert fake.shape == (20, real.shape[1])
