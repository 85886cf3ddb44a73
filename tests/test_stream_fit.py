"""fit from Parquet files and pyarrow datasets (skmixsynth/_arrow.py), and partial_fit."""

import os

import numpy as np
import pandas as pd
import pytest
import torch

from skmixsynth import (
    GTCoderSynthesizer,
    IndependentSynthesizer,
    MixGANSynthesizer,
    MixtureSynthesizer,
    ParquetStream,
)
from skmixsynth._arrow import StreamBatches
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import quality_score
from skmixsynth.nn import TensorBatches, seeded_generator

pa = pytest.importorskip("pyarrow", reason="the parquet extra (pyarrow) is not installed")
ds = pytest.importorskip("pyarrow.dataset", reason="pyarrow.dataset is not installed")

CPU = torch.device("cpu")
TINY_GAN = dict(ae_epochs=1, epochs=1, batch_size=100, encoder_dims=(16,), decoder_dims=(16,),
                generator_dims=(16,), discriminator_dims=(16,), random_state=0)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    frame = make_mixed(800, random_state=0)
    folder = tmp_path_factory.mktemp("stream")
    path = folder / "train.parquet"
    frame.to_parquet(path, row_group_size=200)
    parts = folder / "parts"
    parts.mkdir()
    for i in range(4):  # the same rows and row groups, one file each
        frame.iloc[200 * i:200 * (i + 1)].to_parquet(parts / f"part-{i}.parquet")
    return frame, path, parts


def _params(model):
    return [p.detach().clone() for p in model.modules_.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(_params(a), _params(b), strict=True))


def test_path_dataset_and_stream_give_the_same_model(table):
    frame, path, parts = table
    fits = [IndependentSynthesizer(random_state=0).fit(source) for source in (
        str(path), ParquetStream(path), ds.dataset(str(path)), parts)]  # parts: a folder
    samples = [m.sample(200, random_state=3) for m in fits]
    assert all(s.equals(samples[0]) for s in samples[1:])
    assert fits[0].n_features_in_ == frame.shape[1]
    assert list(fits[0].feature_names_in_) == list(frame.columns)


@pytest.mark.slow
def test_same_files_and_seed_give_the_same_network(table):
    _, path, parts = table
    a = MixGANSynthesizer(**TINY_GAN).fit(path)
    b = MixGANSynthesizer(**TINY_GAN).fit(str(parts))  # the same row groups, in files
    assert _same(a, b)
    assert a.sample(20, random_state=3).equals(b.sample(20, random_state=3))
    c = MixGANSynthesizer(**{**TINY_GAN, "random_state": 1}).fit(path)
    assert not _same(a, c)


def test_buffer_changes_the_shuffle_not_the_encoder(table):
    _, path, _ = table
    a = MixGANSynthesizer(**TINY_GAN).fit(ParquetStream(path, buffer_rows=100))
    b = MixGANSynthesizer(**TINY_GAN).fit(ParquetStream(path, buffer_rows=1000))
    assert a.encoder_.get_state() == b.encoder_.get_state()
    assert not _same(a, b)


def test_stream_encoder_is_one_partial_fit_pass(table):
    _, path, _ = table
    model = IndependentSynthesizer(random_state=0).fit(ParquetStream(path, buffer_rows=300))
    enc = model._make_encoder().set_params(random_state=model.encoder_.random_state)
    read = pd.read_parquet(path)
    categorical = read.select_dtypes("category").columns
    read[categorical] = read[categorical].astype(object)  # dictionaries are decoded
    for start in range(0, len(read), 400):  # record batches of 200, gathered to >= 300 rows
        enc.partial_fit(read.iloc[start:start + 400])
    assert model.encoder_.get_state()["columns"] == enc.get_state()["columns"]
    assert not hasattr(model.encoder_, "_partial")  # the pass's sketches are not kept


def test_stream_fit_matches_memory_fit(table):
    frame, path, _ = table
    streamed = MixGANSynthesizer(**TINY_GAN).fit(path)
    memory = MixGANSynthesizer(**TINY_GAN).fit(frame)
    np.testing.assert_allclose(streamed.history_[0]["ae_loss"], memory.history_[0]["ae_loss"],
                               rtol=0.1)
    fake = streamed.sample(300, random_state=0)
    assert list(fake.columns) == list(frame.columns)
    assert set(fake["education"].dropna()) <= set(frame["education"].dropna())


def test_gtcoder_streams_per_column_views(table):
    frame, path, _ = table
    model = GTCoderSynthesizer(epochs=1, batch_size=200, d_token=8, decoder_dims=(16,),
                               mlp_dims=(16,), random_state=0).fit(path)
    assert [h["phase"] for h in model.history_] == ["train", "latent"]
    assert model.sample(10, random_state=0).shape == (10, frame.shape[1])


def test_mixture_streams_and_holds_out_every_mth_row(table, monkeypatch):
    frame, path, parts = table
    from skmixsynth import mixture

    seen = {}
    prepare = mixture.MixtureSynthesizer._prepare

    def spy(self, numerical, codes, val_numerical, val_codes, n_train):
        seen.update(sample=len(numerical), val=len(val_numerical), n_train=n_train)
        return prepare(self, numerical, codes, val_numerical, val_codes, n_train)

    monkeypatch.setattr(mixture.MixtureSynthesizer, "_prepare", spy)
    monkeypatch.setattr(mixture, "_STREAM_SAMPLE", 300)  # a bounded sample of the rest
    model = MixtureSynthesizer(epochs=3, random_state=0).fit(path)
    # validation_fraction=0.1: every 10th row (80 of 800) held out, 720 trained on, a
    # sample of every 3rd of them (ceil(720 / 300)) for the statistics of the first step
    assert seen == {"sample": 240, "val": 80, "n_train": 720}
    assert all("val_nll" in h for h in model.history_)
    assert (model.n_components_, model.n_bins_, model.batch_size_) == (64, 32, 200)
    fake = model.sample(400, random_state=0)
    assert list(fake.columns) == list(frame.columns)
    assert set(fake["education"].dropna()) <= set(frame["education"].dropna())
    # the same rows in other files and the same seed: the same model
    again = MixtureSynthesizer(epochs=3, random_state=0).fit(str(parts))
    assert again.sample(50, random_state=1).equals(model.sample(50, random_state=1))
    # about as faithful as a fit in memory on the same table
    memory = MixtureSynthesizer(epochs=3, random_state=0).fit(frame)
    streamed_quality = quality_score(frame, fake)
    memory_quality = quality_score(frame, memory.sample(400, random_state=0))
    assert streamed_quality > 0.8 and abs(streamed_quality - memory_quality) < 0.05


def test_stream_batches_skip_the_held_out_rows(tmp_path):
    path = _numbered(50, 7, tmp_path)
    source = StreamBatches(ParquetStream(path, buffer_rows=8),
                           lambda f: (f["row"].to_numpy(),), 6, CPU, skip=(0, 5))
    rows = torch.cat(list(source.iter_epoch(seeded_generator(0, CPU))))
    assert source.n_rows == 40 == len(rows)
    assert sorted(rows.long().tolist()) == [r for r in range(50) if r % 5]
    with pytest.raises(ValueError, match="stride or skip"):
        StreamBatches(ParquetStream(path), lambda f: (f,), 6, CPU, stride=(0, 2),
                      skip=(0, 5))


def test_in_memory_fit_is_unchanged(table):
    """A DataFrame takes the template's path: the model's own batch source, not a stream."""
    frame, _, _ = table
    model = IndependentSynthesizer(random_state=0).fit(frame)
    twin = IndependentSynthesizer(random_state=0).fit(frame.copy())
    assert model.sample(50, random_state=0).equals(twin.sample(50, random_state=0))


def _numbered(n, row_group_size, tmp_path):
    path = tmp_path / "rows.parquet"
    pd.DataFrame({"row": np.arange(n, dtype=np.float32)}).to_parquet(
        path, row_group_size=row_group_size)
    return path


def _rows(batches):
    return [b[:, 0].long().tolist() for b in batches]


@pytest.mark.parametrize("buffer_rows", [7, 40, 1000])
def test_every_row_once_per_epoch_in_tensorbatches_sizes(tmp_path, buffer_rows):
    path = _numbered(103, 20, tmp_path)
    stream = ParquetStream(path, buffer_rows=buffer_rows)
    source = StreamBatches(stream, lambda f: (f[["row"]].to_numpy(np.float32),), 10, CPU)
    assert (source.n_rows, source.n_batches) == (103, 11)
    gen = seeded_generator(0, CPU)
    epochs = [_rows(source.iter_epoch(gen)) for _ in range(2)]
    reference = TensorBatches(np.zeros((103, 1)), 10, CPU)
    for batches in epochs:
        assert sorted(r for b in batches for r in b) == list(range(103))
        assert [len(b) for b in batches] == [
            len(b) for b in reference.iter_epoch(seeded_generator(0, CPU))]
    assert epochs[0] != epochs[1]  # a new order each epoch


def test_small_buffer_keeps_rows_near_their_row_group(tmp_path):
    """The shuffle is bounded: with a buffer of one row group a batch mixes at most two
    adjacent fills, with a whole-table buffer rows from far apart meet."""
    path = _numbered(400, 100, tmp_path)
    small = StreamBatches(ParquetStream(path, buffer_rows=100),
                          lambda f: (f[["row"]].to_numpy(np.float32),), 50, CPU)
    groups = [{r // 100 for r in b} for b in _rows(small.iter_epoch(seeded_generator(0, CPU)))]
    assert max(len(g) for g in groups) <= 2
    whole = StreamBatches(ParquetStream(path, buffer_rows=400),
                          lambda f: (f[["row"]].to_numpy(np.float32),), 50, CPU)
    groups = [{r // 100 for r in b} for b in _rows(whole.iter_epoch(seeded_generator(0, CPU)))]
    assert min(len(g) for g in groups) >= 3


def test_strided_shards_split_the_rows(tmp_path):
    path = _numbered(101, 60, tmp_path)
    stream = ParquetStream(path, buffer_rows=30)
    seen = []
    for rank in range(2):
        source = StreamBatches(stream, lambda f: (f[["row"]].to_numpy(np.float32),), 10, CPU,
                               stride=(rank, 2), n_batches=5)
        rows = [r for b in _rows(source.iter_epoch(seeded_generator(rank, CPU))) for r in b]
        assert all(r % 2 == rank for r in rows)
        seen += rows
    assert sorted(seen) == list(range(101))


def test_dictionary_columns_are_read_as_values(tmp_path):
    frame = pd.DataFrame({"city": pd.Categorical(["b", "a", "c", "a"] * 50),
                          "x": np.arange(200.0)})
    path = tmp_path / "cat.parquet"
    frame.to_parquet(path, row_group_size=50)  # each row group its own dictionary
    model = IndependentSynthesizer(random_state=0, min_count=1).fit(ParquetStream(path,
                                                                                  buffer_rows=50))
    assert set(model.sample(100, random_state=0)["city"]) == {"a", "b", "c"}


def test_index_columns_are_left_out(tmp_path):
    frame = make_mixed(100, random_state=0).set_index(pd.Index(np.arange(100) * 3, name="id"))
    path = tmp_path / "indexed.parquet"
    frame.to_parquet(path)
    stream = ParquetStream(path)
    assert "id" in ds.dataset(str(path)).schema.names  # a named index is a column
    model = IndependentSynthesizer(random_state=0).fit(ParquetStream(path, columns=list(
        frame.columns)))
    assert model.n_features_in_ == frame.shape[1]
    assert stream.n_rows == 100


@pytest.mark.parametrize("source, error, match", [
    ("nowhere.parquet", ValueError, "No such file"),
    ("table.csv", ValueError, r"Parquet files \(.parquet, .pq\)"),
    ("empty", ValueError, "holds no Parquet file"),
])
def test_bad_paths(tmp_path, source, error, match):
    (tmp_path / "table.csv").write_text("a\n1\n")
    (tmp_path / "empty").mkdir()
    with pytest.raises(error, match=match):
        IndependentSynthesizer().fit(os.path.join(tmp_path, source))


def test_bad_stream_arguments(table):
    _, path, _ = table
    with pytest.raises(ValueError, match="buffer_rows=1"):
        ParquetStream(path, buffer_rows=1)
    with pytest.raises(TypeError, match="columns must be a list"):
        ParquetStream(path, columns="age")
    with pytest.raises(ValueError, match=r"columns \['nope'\] are not in the data"):
        IndependentSynthesizer().fit(ParquetStream(path, columns=["nope"]))
    with pytest.raises(TypeError, match=r"pyarrow\.dataset\.Dataset; got list"):
        _ = ParquetStream([1, 2]).n_rows


# ------------------------------------------------------------------------------ partial_fit
def test_partial_fit_adds_counts_to_the_first_chunks_layout():
    table = make_mixed(900, random_state=0)
    chunks = [table.iloc[i:i + 300] for i in range(0, 900, 300)]
    model = IndependentSynthesizer(random_state=0)
    for chunk in chunks:
        model = model.partial_fit(chunk)
    first = IndependentSynthesizer(random_state=0).fit(chunks[0])
    assert model.encoder_.get_state() == first.encoder_.get_state()  # the first chunk's layout
    counts = model.modules_["marginals"].disc_counts
    expected = first.modules_["marginals"].disc_counts.clone()
    for chunk in chunks[1:]:
        onehot = torch.as_tensor(first.encoder_.transform(chunk))
        marg = first.modules_["marginals"]
        expected += (onehot[:, marg.index] * marg.mask).sum(dim=0)
    torch.testing.assert_close(counts, expected)
    assert model.n_iter_ == 3 and len(model.history_) == 3
    twin = IndependentSynthesizer(random_state=0)
    for chunk in chunks:
        twin = twin.partial_fit(chunk)
    assert twin.sample(100, random_state=0).equals(model.sample(100, random_state=0))


def test_partial_fit_refuses_a_category_the_first_chunk_lacked():
    table = make_mixed(400, random_state=0)
    first = table[table["region"] != "north"]
    model = IndependentSynthesizer(random_state=0).partial_fit(first)
    with pytest.raises(ValueError, match="region"):
        model.partial_fit(table)
    assert model.n_iter_ == 1  # the refused chunk changed nothing


@pytest.mark.parametrize("model", [MixGANSynthesizer(), GTCoderSynthesizer(),
                                   MixtureSynthesizer()])
def test_partial_fit_only_where_it_makes_sense(model):
    assert not hasattr(model, "partial_fit")
    assert hasattr(IndependentSynthesizer(), "partial_fit")


# ------------------------------------------------------------------------------ benchmark
def _run_benchmark(tmp_path, *args):
    import json

    from benchmarks import stream_fit

    path = stream_fit.main(["--quick", "--out", str(tmp_path), *args])
    return json.loads(path.read_text())


@pytest.mark.slow
def test_stream_benchmark_big_at_a_tiny_size(tmp_path):
    doc = _run_benchmark(tmp_path, "--measures", "big", "--rows", "3000", "--chunk-rows",
                         "1000", "--buffer-rows", "800")
    assert doc["kind"] == "stream" and doc["complete"]
    (record,) = doc["records"]
    assert record["status"] == "ok", record.get("error")
    assert (record["n_rows"], record["n_columns"]) == (3000, 30)
    assert record["epochs"] == [["autoencoder", 0], ["gan", 0]]
    assert 0 < record["peak_rss_before_fit_mb"] <= record["peak_rss_mb"]
    assert record["train_rows_per_second"] > 0
    assert not list(tmp_path.rglob("*.parquet"))  # the scratch data is removed


@pytest.mark.slow
@pytest.mark.datasets
def test_stream_benchmark_adult_at_a_tiny_size(tmp_path, data_home):
    doc = _run_benchmark(tmp_path, "--measures", "adult", "--data-home", str(data_home),
                         "--adult-rows", "600", "--adult-param", "ae_epochs=1",
                         "--adult-param", "epochs=1")
    records = {r["source"]: r for r in doc["records"]}
    assert set(records) == {"parquet", "memory"}
    for record in records.values():
        assert record["status"] == "ok", record.get("error")
        assert 0 <= record["metrics"]["quality"] <= 1
        assert record["n_rows"] == 480  # 80 % of the 600 rows


def test_benchmark_table_is_written_in_chunks(tmp_path):
    from benchmarks.stream_fit import N_COLUMNS, make_chunk, write_big

    path = tmp_path / "big.parquet"
    write_big(path, 2500, 1000, seed=0)
    meta = pa.parquet.ParquetFile(path).metadata
    assert (meta.num_rows, meta.num_columns, meta.num_row_groups) == (2500, N_COLUMNS, 3)
    first = pd.read_parquet(path).iloc[:1000].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, make_chunk(1000, 0), check_categorical=False)


def test_hive_partitions_of_a_folder_are_columns(tmp_path):
    frame = make_mixed(400, random_state=0)
    frame.to_parquet(tmp_path / "table", partition_cols=["region"])
    (tmp_path / "table" / "README.txt").write_text("not a Parquet file: left out")
    model = IndependentSynthesizer(random_state=0).fit(tmp_path / "table")
    assert sorted(model.feature_names_in_) == sorted(frame.columns)
    assert set(model.sample(200, random_state=0)["region"]) == set(frame["region"])


def test_a_stream_fitted_model_saves_and_loads(table, tmp_path):
    import skmixsynth

    _, path, _ = table
    model = MixGANSynthesizer(**TINY_GAN).fit(path)
    twin = skmixsynth.load(model.save(tmp_path / "model.pt"))
    assert twin.sample(30, random_state=0).equals(model.sample(30, random_state=0))


def test_a_stream_object_rereads_files_that_changed(tmp_path):
    path = tmp_path / "t.parquet"
    make_mixed(100, random_state=0).to_parquet(path)
    stream = ParquetStream(path)
    IndependentSynthesizer(random_state=0).fit(stream)
    make_mixed(300, random_state=1).to_parquet(path)
    model = IndependentSynthesizer(random_state=0).fit(stream)
    assert int(model.modules_["marginals"].num_counts[0].sum()) == 300
