"""The BaseSynthesizer template, exercised through IndependentSynthesizer."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

import skmixsynth
from skmixsynth import BaseSynthesizer, IndependentSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.nn import resolve_device


@pytest.fixture(scope="module")
def real():
    return make_mixed(400, missing_rate=0.05, random_state=0)


def test_fit_returns_self_and_sets_fitted_attributes(real):
    model = IndependentSynthesizer(random_state=0, device="cpu")
    assert model.fit(real) is model
    assert model.n_features_in_ == real.shape[1]
    assert list(model.feature_names_in_) == list(real.columns)
    assert model.device_ == torch.device("cpu")
    assert model.history_ and model.history_[0]["phase"] == "statistics"
    assert model.n_iter_ == len(model.history_)


def test_sample_keeps_columns_dtypes_and_categories(real):
    fake = IndependentSynthesizer(random_state=0).fit(real).sample(250, random_state=1)
    assert list(fake.columns) == list(real.columns)
    assert (fake.dtypes == real.dtypes).all()
    for col in real.select_dtypes("category"):
        assert list(fake[col].cat.categories) == list(real[col].cat.categories)
    assert fake.shape == (250, real.shape[1])
    # missing values are modelled, not dropped
    assert fake["income"].isna().any()


def test_same_random_state_same_samples(real):
    a = IndependentSynthesizer(random_state=3).fit(real)
    b = IndependentSynthesizer(random_state=3).fit(real)
    pd.testing.assert_frame_equal(a.sample(100, random_state=5), b.sample(100, random_state=5))
    # without a per-call seed: a reproducible stream, but successive calls differ
    first, second = a.sample(100), a.sample(100)
    assert not first.equals(second)
    pd.testing.assert_frame_equal(first, b.sample(100))
    assert not a.sample(100, random_state=1).equals(a.sample(100, random_state=2))


@pytest.mark.parametrize("model", [
    IndependentSynthesizer(random_state=0, device="cpu"),
    skmixsynth.MixGANSynthesizer(latent_dim=4, encoder_dims=(8,), decoder_dims=(8, 8),
                                 generator_dims=(8,), discriminator_dims=(8,), batch_size=64,
                                 ae_epochs=1, epochs=1, random_state=0, device="cpu"),
], ids=["independent", "mixgan"])
def test_samples_do_not_depend_on_the_thread_count(real, model, monkeypatch):
    model = clone(model).fit(real)
    # small chunks and blocks so that 230 rows span several of each
    monkeypatch.setattr(type(model), "_sample_chunk_size", 64)
    monkeypatch.setattr(type(model), "_sample_batch_size", 16)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = model.sample(230, random_state=7)
        torch.set_num_threads(2)
        two = model.sample(230, random_state=7)
        assert torch.get_num_threads() == 2  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    pd.testing.assert_frame_equal(one, two)
    assert one.index.equals(pd.RangeIndex(230))
    assert list(one.dtypes) == list(real.dtypes)
    # chunks get their own seeds: no chunk repeats another
    assert not one.iloc[:64].reset_index(drop=True).equals(one.iloc[64:128].reset_index(drop=True))
    assert model.sample(0, random_state=7).shape == (0, real.shape[1])


def test_a_refit_restarts_the_sampling_stream(real):
    model = IndependentSynthesizer(random_state=3).fit(real)
    model.sample(20)  # advances the stream
    model.fit(real)
    fresh = IndependentSynthesizer(random_state=3).fit(real)
    pd.testing.assert_frame_equal(model.sample(50), fresh.sample(50))


def test_score_takes_frames_and_arrays_and_names_missing_columns(real):
    model = IndependentSynthesizer(random_state=0).fit(real)
    on_frame = model.score(real)
    assert 0.5 < on_frame <= 1.0
    assert model.score(real[real.columns[::-1]]) == on_frame  # by name, not position
    X = np.random.RandomState(0).normal(size=(200, 3))
    on_array = IndependentSynthesizer(random_state=0).fit(X)
    named = pd.DataFrame(X, columns=on_array.sample(0).columns)  # the names given at fit
    assert on_array.score(X) == on_array.score(named) > 0.5
    renamed = real.rename(columns={"age": "years"})
    with pytest.raises(ValueError, match=r"Columns \['age'\] were seen at fit"):
        model.score(renamed)


def test_fit_does_not_modify_the_input(real):
    before = real.copy(deep=True)
    IndependentSynthesizer(random_state=0).fit(real)
    pd.testing.assert_frame_equal(real, before)


def test_sample_zero_rows_and_bad_n(real):
    model = IndependentSynthesizer(random_state=0).fit(real)
    empty = model.sample(0)
    assert empty.shape == (0, real.shape[1])
    for bad in (-1, 2.5, "10", True):
        with pytest.raises(ValueError, match="n_samples"):
            model.sample(bad)


def test_sample_larger_than_one_block(real):
    model = IndependentSynthesizer(random_state=0).fit(real)
    n = model._sample_batch_size * 2 + 7
    assert len(model.sample(n, random_state=0)) == n


def test_marginals_are_learnt(real):
    fake = IndependentSynthesizer(random_state=0).fit(real).sample(4000, random_state=0)
    freq_real = real["region"].value_counts(normalize=True)
    freq_fake = fake["region"].value_counts(normalize=True)
    assert (freq_real - freq_fake).abs().max() < 0.05
    assert abs(fake["age"].median() - real["age"].median()) <= 3
    assert fake["age"].between(real["age"].min(), real["age"].max()).all()


def test_device_resolution():
    assert resolve_device("auto") == torch.device(
        "cuda" if torch.cuda.is_available() else "cpu"
    )
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_without_gpu_is_a_clear_error(real):
    with pytest.raises(ValueError, match="CUDA"):
        IndependentSynthesizer(device="cuda").fit(real)
    with pytest.raises(ValueError, match="CUDA"):
        IndependentSynthesizer(device="cuda:1").fit(real)


def test_every_tensor_follows_device(real):
    model = IndependentSynthesizer(device="cpu", random_state=0).fit(real)
    tensors = list(model.modules_.parameters()) + list(model.modules_.buffers())
    assert tensors and all(t.device == model.device_ for t in tensors)


def test_invalid_parameters_are_reported_at_fit(real):
    with pytest.raises(ValueError, match="batch_size"):
        IndependentSynthesizer(batch_size=0).fit(real)
    with pytest.raises(ValueError, match="numerical_encoding"):
        IndependentSynthesizer(numerical_encoding="log").fit(real)


def test_too_few_rows(real):
    class Picky(IndependentSynthesizer):
        _min_samples = 10

    with pytest.raises(ValueError, match="at least 10 rows"):
        Picky().fit(real.head(3))


def test_save_load_round_trip(real, tmp_path):
    model = IndependentSynthesizer(random_state=0, max_categories=3).fit(real)
    path = tmp_path / "model.pt"
    model.save(path)
    twin = IndependentSynthesizer.load(path)
    pd.testing.assert_frame_equal(twin.sample(50, random_state=9), model.sample(50, random_state=9))
    assert twin.get_params() == model.get_params()
    assert twin.history_ == model.history_
    assert isinstance(skmixsynth.load(path), IndependentSynthesizer)
    # the file holds only tensors and JSON: it loads with weights_only=True
    payload = torch.load(path, weights_only=True)
    assert set(payload) == {"format", "format_version", "config", "state"}


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"a": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="not a skmixsynth model"):
        skmixsynth.load(path)


def test_load_on_cpu_of_a_model_saved_with_device_cuda(real, tmp_path, monkeypatch):
    model = IndependentSynthesizer(random_state=0, device="cpu").fit(real)
    path = tmp_path / "model.pt"
    model.save(path)
    payload = torch.load(path, weights_only=True)
    payload["config"] = payload["config"].replace('"device": "cpu"', '"device": "cuda"')
    torch.save(payload, path)
    if torch.cuda.is_available():
        pytest.skip("the fallback only happens without CUDA")
    with pytest.warns(RuntimeWarning, match="Falling back to the CPU"):
        twin = skmixsynth.load(path)
    assert twin.device_ == torch.device("cpu")


def test_pickle_and_clone(real):
    model = IndependentSynthesizer(random_state=0).fit(real)
    twin = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(twin.sample(30, random_state=2), model.sample(30, random_state=2))
    fresh = clone(model)
    assert not hasattr(fresh, "modules_")
    assert fresh.get_params() == model.get_params()


class _Exploding(IndependentSynthesizer):
    """Reports a NaN loss in its second epoch."""

    def _phases(self, n_batches):
        return [("warmup", 1), ("main", 3)]

    def _train_step(self, phase, batch, generator, *, progress):
        value = np.nan if (phase == "main" and len(self.history_) >= 2) else 1.0
        return {"loss": torch.tensor(value)}


def test_nan_loss_names_phase_and_epoch(real):
    with pytest.raises(FloatingPointError, match=r"phase 'main' at epoch 1"):
        _Exploding(random_state=0).fit(real)


class _Interrupted(IndependentSynthesizer):
    """Simulates Ctrl-C during its third epoch."""

    def _phases(self, n_batches):
        return [("statistics", 5)]

    def _train_step(self, phase, batch, generator, *, progress):
        if len(self.history_) == 2:
            raise KeyboardInterrupt
        return super()._train_step(phase, batch, generator, progress=progress)


def test_ctrl_c_keeps_the_last_finished_epoch(real):
    model = _Interrupted(random_state=0, batch_size=10_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(KeyboardInterrupt):
            model.fit(real)
    assert any("last finished epoch" in str(w.message) for w in caught)
    assert len(model.history_) == 2
    fake = model.sample(20, random_state=0)
    assert fake.shape == (20, real.shape[1])


def test_verbose_logs_losses(real, caplog):
    with caplog.at_level("INFO", logger="skmixsynth"):
        IndependentSynthesizer(verbose=1, random_state=0).fit(real)
    assert "statistics epoch 0" in caplog.text


def test_numpy_input(real):
    X = np.random.RandomState(0).normal(size=(50, 3))
    fake = IndependentSynthesizer(random_state=0).fit(X).sample(10)
    assert fake.shape == (10, 3)
    assert not hasattr(IndependentSynthesizer().fit(X), "feature_names_in_")


def test_base_is_abstract():
    with pytest.raises(TypeError):
        BaseSynthesizer()
