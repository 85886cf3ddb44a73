"""Run by tests/test_ddp.py on every process of ``torchrun --nproc-per-node=2`` (gloo, CPU).

The first fit initialises the process group from torchrun's environment; then each rank fits
the models of ``CASES`` data-parallel on the same inputs and writes what the
test compares to ``OUT/rank<r>.json``: digests of its parameters and buffers, the encoder
state, sampled rows, the quality score and the history. Not a test module (leading underscore).
"""

import hashlib
import json
import os
import sys
import warnings

import torch
import torch.distributed as dist

from skmixsynth import (
    GTCoderSynthesizer,
    IndependentSynthesizer,
    MixGANSynthesizer,
    MixtureSynthesizer,
    ParquetStream,
)
from skmixsynth.datasets import make_mixed

N_ROWS = 600

#: (name, estimator factory, data: "frame" or "parquet"); shared with tests/test_ddp.py
CASES = [
    ("mixgan", lambda: MixGANSynthesizer(
        ae_epochs=3, epochs=3, batch_size=100, encoder_dims=(32,), decoder_dims=(32,),
        generator_dims=(32,), discriminator_dims=(32,), random_state=0), "frame"),
    ("gtcoder", lambda: GTCoderSynthesizer(
        epochs=3, batch_size=100, d_token=8, decoder_dims=(32,), mlp_dims=(32,),
        random_state=0), "parquet"),
]


def auto_model():
    return MixGANSynthesizer(ae_epochs=1, epochs=1, batch_size=100, encoder_dims=(8,),
                             decoder_dims=(8,), generator_dims=(8,), discriminator_dims=(8,),
                             random_state=0)


def data(folder):
    frame = make_mixed(N_ROWS, random_state=0)
    path = os.path.join(folder, "train.parquet")
    return frame, path


def digest(tensors):
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def summary(model, frame):
    return {
        "parameters": digest(model.modules_.parameters()),
        "buffers": digest(model.modules_.buffers()),
        "encoder": model.encoder_.get_state(),
        "sample": model.sample(50, random_state=1).astype(str).to_dict("list"),
        "score": model.score(frame),
        "history": model.history_,
    }


def main(out):
    frame, path = data(out)
    # no process group yet: fit initialises one from torchrun's environment and keeps it
    model = auto_model().fit(frame)
    results = {"auto": {"parameters": digest(model.modules_.parameters()),
                        "initialized_after": dist.is_initialized()}}
    rank = dist.get_rank()
    results["world"] = dist.get_world_size()
    for name, make, kind in CASES:
        model = make().fit(frame if kind == "frame" else ParquetStream(path, buffer_rows=200))
        results[name] = summary(model, frame)
    # no gradient path: every rank fits the whole table from rank 0's seeds (random_state=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = IndependentSynthesizer().fit(frame)
    results["independent"] = {
        "sample": model.sample(50, random_state=1).astype(str).to_dict("list"),
        "warned": [str(w.message) for w in caught if "does not train data-parallel" in str(
            w.message)]}
    # the mixture model (its sizes resolved from the table) takes the same local path
    model = MixtureSynthesizer(epochs=2, random_state=0).fit(frame)
    results["mixture"] = {"sample": model.sample(50, random_state=1).astype(str).to_dict("list"),
                          "batch_size_": model.batch_size_}
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(results, f, default=str)
    dist.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1])
