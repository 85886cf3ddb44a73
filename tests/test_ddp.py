"""Data-parallel training with torch.distributed: two CPU processes under torchrun (gloo)."""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from _ddp_script import CASES, auto_model, data, digest, summary

from skmixsynth import IndependentSynthesizer, MixGANSynthesizer, ParquetStream
from skmixsynth.datasets import make_mixed
from skmixsynth.distributed import data_parallel, is_main_process

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    """Both ranks' results, and the one-process fits of the same cases."""
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("this torch build has no torch.distributed gloo backend")
    out = tmp_path_factory.mktemp("ddp")
    frame, path = data(str(out))
    frame.to_parquet(path, row_group_size=150)  # 4 row groups: 2 per rank
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
           "--master-addr=127.0.0.1", f"--master-port={_free_port()}",
           os.path.join(HERE, "_ddp_script.py"), str(out)]
    # a session of its own, so that a hung run is killed with its ranks (subprocess.run's
    # timeout kills the launcher alone and leaves the ranks holding the port)
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail("torchrun did not finish in 240 s:\n" + stdout[-3000:] + stderr[-3000:])
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    local = {}
    with data_parallel(False):
        for name, make, kind in CASES:
            model = make().fit(frame if kind == "frame" else ParquetStream(path,
                                                                           buffer_rows=200))
            local[name] = json.loads(json.dumps(summary(model, frame), default=str))
    return ranks, local


@pytest.mark.slow
@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_ranks_end_identical(ddp_run, name):
    ranks, _ = ddp_run
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    a, b = ranks[0][name], ranks[1][name]
    # the parameters are trained on different shards: equal only if the gradients are averaged
    assert a["parameters"] == b["parameters"]
    assert a["buffers"] == b["buffers"]
    assert a["sample"] == b["sample"]
    def losses(history):  # the losses averaged over the ranks; not the seconds
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert losses(a["history"]) == losses(b["history"])


@pytest.mark.slow
@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_ddp_fit_is_like_a_one_process_fit(ddp_run, name):
    ranks, local = ddp_run
    ddp, one = ranks[0][name], local[name]
    assert ddp["encoder"] == one["encoder"]  # fitted once, on the whole table, by rank 0
    assert ddp["parameters"] != one["parameters"]  # trained on shards, not a copy
    # as many steps as one process (batch_size is the batch of a step over both ranks)
    assert [h["phase"] for h in ddp["history"]] == [h["phase"] for h in one["history"]]
    assert abs(ddp["score"] - one["score"]) < 0.08, (ddp["score"], one["score"])
    sample = pd.DataFrame(ddp["sample"])
    assert list(sample.columns) == list(make_mixed(5, random_state=0).columns)


def test_without_process_group_fit_is_local():
    """No process group, no torchrun environment: the in-memory path, bit for bit."""
    assert is_main_process()
    frame = make_mixed(200, random_state=0)
    kw = dict(ae_epochs=1, epochs=1, batch_size=50, encoder_dims=(8,), decoder_dims=(8,),
              generator_dims=(8,), discriminator_dims=(8,), random_state=0)
    a = MixGANSynthesizer(**kw).fit(frame)
    with data_parallel(False):
        b = MixGANSynthesizer(**kw).fit(frame)
    assert digest(a.modules_.parameters()) == digest(b.modules_.parameters())


def test_single_process_group_is_local(tmp_path):
    """A group of one process trains as a local fit (same model)."""
    if not torch.distributed.is_gloo_available():
        pytest.skip("this torch build has no gloo backend")
    frame = make_mixed(100, random_state=0)
    ref = IndependentSynthesizer(random_state=0).fit(frame)
    store = torch.distributed.FileStore(str(tmp_path / "store"), 1)
    torch.distributed.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        model = IndependentSynthesizer(random_state=0).fit(frame)
    finally:
        torch.distributed.destroy_process_group()
    np.testing.assert_array_equal(model.sample(20, random_state=0).to_numpy(),
                                  ref.sample(20, random_state=0).to_numpy())


@pytest.mark.slow
def test_fit_initialises_the_group_from_torchrun_env(ddp_run):
    ranks, _ = ddp_run
    a, b = ranks[0]["auto"], ranks[1]["auto"]
    assert a["parameters"] == b["parameters"]
    assert a["initialized_after"] and b["initialized_after"]  # kept for the later fits
    local = auto_model().fit(make_mixed(600, random_state=0))
    assert a["parameters"] != digest(local.modules_.parameters())  # trained on shards


@pytest.mark.slow
def test_models_without_gradients_fit_whole_table_on_every_rank(ddp_run):
    ranks, _ = ddp_run
    a, b = ranks[0]["independent"], ranks[1]["independent"]
    assert a["sample"] == b["sample"]  # the same seeds from rank 0, though random_state=None
    assert len(a["warned"]) == 1 and not b["warned"]  # rank 0 says so, once
    m0, m1 = ranks[0]["mixture"], ranks[1]["mixture"]
    assert m0["sample"] == m1["sample"] and m0["batch_size_"] == m1["batch_size_"] == 150
