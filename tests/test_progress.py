"""What a verbose fit shows the user: a tqdm bar that ends on the last losses, and without
tqdm plain lines on stderr (unless logging already shows the per-epoch lines)."""

import logging
import sys

import pytest

from skmixsynth import MixGANSynthesizer, MixtureSynthesizer
from skmixsynth.datasets import make_mixed


@pytest.fixture(scope="module")
def real():
    return make_mixed(120, random_state=0)


@pytest.fixture
def no_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


@pytest.mark.slow
def test_the_bar_stays_with_the_last_losses(real, capsys):
    pytest.importorskip("tqdm")
    model = MixtureSynthesizer(n_components=2, n_subcomponents=2, epochs=3, random_state=0,
                               verbose=1).fit(real)
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("MixtureSynthesizer: 100%") and "3/3" in final
    last = model.history_[-1]
    assert f"nll={last['nll']:.4g}" in final and "phase=adam" in final


def test_without_tqdm_progress_lines_reach_stderr(real, capsys, no_tqdm):
    model = MixGANSynthesizer(epochs=2, ae_epochs=30, batch_size=60, random_state=0,
                              verbose=1).fit(real)
    lines = capsys.readouterr().err.strip().splitlines()
    total = len(model.history_)
    assert total == 32
    # the first epoch, one line per tenth, and the final line: not one per epoch
    assert 3 <= len(lines) <= 12
    assert lines[0].startswith(f"MixGANSynthesizer: epoch 1/{total} (autoencoder epoch 0): ")
    assert all(line.startswith("MixGANSynthesizer: ") for line in lines)
    last = model.history_[-1]
    assert lines[-1].startswith(f"MixGANSynthesizer: done, {total}/{total} epochs in ")
    assert "(gan epoch 1)" in lines[-1]
    for key in ("d_loss", "g_loss", "recon_loss"):
        assert f"{key}={last[key]:.4g}" in lines[-1]


def test_a_quiet_fit_writes_nothing(real, capsys, no_tqdm):
    MixtureSynthesizer(n_components=2, n_subcomponents=2, epochs=2, random_state=0).fit(real)
    assert capsys.readouterr().err == ""


def test_logging_shown_to_the_user_replaces_the_plain_lines(real, capsys, no_tqdm, caplog):
    # as the command line does: a handler shows the INFO lines, so no second copy
    logger = logging.getLogger("skmixsynth")
    handler = logging.StreamHandler(sys.stderr)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        MixtureSynthesizer(n_components=2, n_subcomponents=2, epochs=2, random_state=0,
                           verbose=1).fit(real)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in lines if line.startswith("adam epoch")]) == 2
    assert not any(line.startswith("MixtureSynthesizer: ") for line in lines)  # no plain lines
