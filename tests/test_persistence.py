"""save / load: parameters come back as given, and anything that is not a model file is a
ValueError naming the path."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

import skmixsynth
from skmixsynth import IndependentSynthesizer, MixGANSynthesizer
from skmixsynth.datasets import make_mixed


@pytest.fixture(scope="module")
def real():
    return make_mixed(120, random_state=0)


@pytest.fixture(scope="module")
def saved(real, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.pt"
    IndependentSynthesizer(random_state=0, device="cpu").fit(real).save(path)
    return path


def test_array_and_tuple_parameters_come_back_as_given(real, tmp_path):
    model = IndependentSynthesizer(
        categorical_columns=np.array(["region", "plan"]),
        numerical_columns=("age",),
        random_state=np.int64(3),
        device=torch.device("cpu"),
    ).fit(real)
    twin = skmixsynth.load(model.save(tmp_path / "m.pt"))
    params = twin.get_params()
    assert isinstance(params["categorical_columns"], np.ndarray)
    np.testing.assert_array_equal(params["categorical_columns"], ["region", "plan"])
    assert params["categorical_columns"].dtype == model.categorical_columns.dtype
    assert params["numerical_columns"] == ("age",)
    assert params["random_state"] == 3 and params["device"] == "cpu"
    pd.testing.assert_frame_equal(twin.sample(30, random_state=1),
                                  model.sample(30, random_state=1))


def test_mixgan_tuples_stay_tuples(real, tmp_path):
    model = MixGANSynthesizer(latent_dim=4, encoder_dims=(8,), decoder_dims=[8],
                              generator_dims=(8,), discriminator_dims=(8,), ae_epochs=1,
                              epochs=1, device="cpu", random_state=0).fit(real)
    twin = MixGANSynthesizer.load(model.save(tmp_path / "m.pt"))
    assert twin.get_params() == model.get_params()
    assert type(twin.betas) is tuple and type(twin.decoder_dims) is list


def test_a_random_state_instance_is_saved_as_none(real, tmp_path):
    model = IndependentSynthesizer(random_state=np.random.RandomState(0)).fit(real)
    assert skmixsynth.load(model.save(tmp_path / "m.pt")).random_state is None


def test_format_1_files_still_load(real, saved, tmp_path):
    payload = torch.load(saved, weights_only=True)
    config = json.loads(payload["config"])
    assert payload["format_version"] == 2
    payload["format_version"] = 1  # format 1: plain JSON parameters, no tags
    payload["config"] = json.dumps(config)
    torch.save(payload, tmp_path / "v1.pt")
    twin = skmixsynth.load(tmp_path / "v1.pt")
    pd.testing.assert_frame_equal(twin.sample(10, random_state=0),
                                  skmixsynth.load(saved).sample(10, random_state=0))


def _write(path, payload):
    torch.save(payload, path)
    return path


def _edited(saved, tmp_path, edit):
    payload = torch.load(saved, weights_only=True)
    edit(payload)
    return _write(tmp_path / "edited.pt", payload)


def _config_edit(**changes):
    def edit(payload):
        config = json.loads(payload["config"])
        for key, value in changes.items():
            if value is None:
                del config[key]
            else:
                config[key] = value
        payload["config"] = json.dumps(config)
    return edit


BAD_FILES = {
    "text": lambda saved, tmp: (tmp / "notes.txt").write_text("hello\n") and tmp / "notes.txt",
    "empty": lambda saved, tmp: (tmp / "empty.pt").write_bytes(b"") or tmp / "empty.pt",
    "truncated zip": lambda saved, tmp: (tmp / "cut.pt").write_bytes(
        saved.read_bytes()[: len(saved.read_bytes()) // 2]) and tmp / "cut.pt",
    "a plain pickle": lambda saved, tmp: (tmp / "p.pkl").write_bytes(
        pickle.dumps({"format": "skmixsynth"})) and tmp / "p.pkl",
    "another library's state dict": lambda saved, tmp: _write(
        tmp / "linear.pt", torch.nn.Linear(2, 2).state_dict()),
    "a pickled torch module": lambda saved, tmp: _write(tmp / "module.pt", torch.nn.Linear(2, 2)),
    "a tensor": lambda saved, tmp: _write(tmp / "tensor.pt", torch.zeros(3)),
    "a dict without our keys": lambda saved, tmp: _write(tmp / "d.pt", {"format": "skmixsynth"}),
    "no config": lambda saved, tmp: _edited(saved, tmp, lambda p: p.pop("config")),
    "config not JSON": lambda saved, tmp: _edited(
        saved, tmp, lambda p: p.update(config="{not json")),
    "config lacks params": lambda saved, tmp: _edited(saved, tmp, _config_edit(params=None)),
    "bad version": lambda saved, tmp: _edited(
        saved, tmp, lambda p: p.update(format_version="1")),
    "state not tensors": lambda saved, tmp: _edited(saved, tmp, lambda p: p.update(state=[1])),
    "a weight missing": lambda saved, tmp: _edited(
        saved, tmp, lambda p: p["state"].pop(next(iter(p["state"])))),
    "a weight of another shape": lambda saved, tmp: _edited(
        saved, tmp, lambda p: p["state"].update(
            {k: torch.zeros(1, 1) for k in list(p["state"])[:1]})),
    "unknown parameter": lambda saved, tmp: _edited(saved, tmp, _config_edit(
        params={"colour": "red"})),
    "broken encoder state": lambda saved, tmp: _edited(saved, tmp, _config_edit(
        encoder={"params": {}})),
    "unknown class": lambda saved, tmp: _edited(saved, tmp, _config_edit(
        **{"class": "TimeMachine"})),
}


@pytest.mark.parametrize("make", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_file_that_is_not_a_model_is_a_value_error_naming_it(saved, tmp_path, make):
    path = make(saved, tmp_path)
    with pytest.raises(ValueError, match=r"skmixsynth|fit|encoder|weights") as info:
        skmixsynth.load(path)
    assert str(path) in str(info.value)


def test_a_newer_format_asks_for_an_upgrade(saved, tmp_path):
    path = _edited(saved, tmp_path, lambda p: p.update(format_version=99))
    with pytest.raises(ValueError, match=r"newer skmixsynth \(format 99\); upgrade"):
        skmixsynth.load(path)


def test_a_model_of_another_class(saved):
    with pytest.raises(ValueError, match="holds a IndependentSynthesizer, which is not a "
                                         "MixGANSynthesizer"):
        MixGANSynthesizer.load(saved)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        skmixsynth.load(tmp_path / "nothing.pt")


def test_an_unsavable_parameter_is_named(real, tmp_path):
    model = IndependentSynthesizer(random_state=0).fit(real)
    model.n_bins = object()  # set behind validation's back, as a subclass might
    with pytest.raises(TypeError, match="n_bins="):
        model.save(tmp_path / "m.pt")
