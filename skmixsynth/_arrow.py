"""Out-of-core training tables: Parquet files and ``pyarrow`` datasets read in record batches.

:class:`ParquetStream` is what ``fit`` accepts besides a DataFrame (a path and a
``pyarrow.dataset.Dataset`` are wrapped in one with the defaults). Two passes use it:

- the encoder pass: the record batches, in a fixed order, gathered into chunks of about
  ``buffer_rows`` rows, go through :meth:`MixedTypeEncoder.partial_fit` once;
- the training epochs: :class:`StreamBatches`, the batch source of the epoch loop, reads the
  row groups in an order drawn from the training generator, encodes each record batch with the
  fitted encoder, and shuffles within a buffer of ``buffer_rows`` encoded rows.

At any time the process holds one buffer of encoded rows, one record batch as pandas, and the
model: never the table. pyarrow is imported only here, lazily.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["ParquetStream", "StreamBatches", "as_stream", "is_stream"]

_PARQUET_SUFFIXES = (".parquet", ".pq")
_EXTRA = 'pip install "skmixsynth[parquet]"'
_INDEX_COLUMN = re.compile(r"^__index_level_\d+__$")


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.dataset as ds
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"Fitting from Parquet files or a pyarrow dataset needs pyarrow: {_EXTRA}."
        ) from exc
    return pa, ds


def is_stream(X):
    """Whether ``fit`` should read ``X`` as a stream (a path, a pyarrow dataset, a
    :class:`ParquetStream`) rather than as an in-memory table. Imports nothing."""
    if isinstance(X, (ParquetStream, str, os.PathLike)):
        return True
    return type(X).__module__.startswith("pyarrow") and hasattr(X, "get_fragments")


def as_stream(X):
    """``X`` as a :class:`ParquetStream` (the defaults for a path or a dataset)."""
    return X if isinstance(X, ParquetStream) else ParquetStream(X)


@dataclass(frozen=True)
class _Unit:
    """One piece of the table read as a whole: a Parquet row group (or a non-Parquet
    fragment), with its rows and its position in the table's fixed order."""

    fragment: object
    n_rows: int
    offset: int  # rows before it in the fixed order


class ParquetStream:
    """A training table read from disk in record batches, for ``fit`` on data larger than memory.

    ``model.fit(path)`` and ``model.fit(dataset)`` wrap their argument in a ``ParquetStream``
    with the defaults below; build one yourself to choose the buffer or the columns. The files
    are read, never written; nothing is cached between passes.

    Parameters
    ----------
    source : str, path-like or pyarrow.dataset.Dataset
        A Parquet file (``.parquet`` or ``.pq``), a folder of Parquet files (read recursively,
        hive partitions included, files in sorted order), or any ``pyarrow.dataset.Dataset``.
    buffer_rows : int, default=100_000
        The shuffle buffer, in rows. Training reads the row groups in a random order (one
        order per epoch, drawn from the model's ``random_state``), encodes them and shuffles
        within a buffer of this many encoded rows before cutting batches: rows closer than a
        buffer in a row group can meet in a batch, rows further apart only through the order
        of the row groups. It bounds memory: about ``buffer_rows`` times the encoded width
        (``encoder_.layout_.width`` float32 numbers for MixGAN, one number per column for
        GTCoder) plus one record batch. The encoder pass reads chunks of this many rows too.
        A larger buffer shuffles better; a table that fits in one buffer is shuffled whole.
    columns : list of str, default=None
        The columns to read (all, except pandas index columns, by default).

    Attributes
    ----------
    n_rows : int
        Rows of the table, from the files' metadata.

    Notes
    -----
    Record batches are converted with ``pyarrow.RecordBatch.to_pandas``, so the dtypes are
    those of ``pandas.read_parquet`` on each batch, with one exception: dictionary (pandas
    categorical) columns are decoded to plain values, because each record batch carries its
    own dictionary and a categorical dtype would change from batch to batch. Such a column is
    categorical through its values (strings), its levels sorted; the order of a pandas
    categorical's categories is not kept. An integer column with missing values in some row
    groups is read as ``float64`` there, which the encoder's pass accepts (``int64`` then
    ``float64`` is a float column).

    Examples
    --------
    >>> import os, tempfile
    >>> from skmixsynth import IndependentSynthesizer, ParquetStream
    >>> from skmixsynth.datasets import make_mixed
    >>> path = os.path.join(tempfile.mkdtemp(), "train.parquet")
    >>> make_mixed(1000, random_state=0).to_parquet(path, row_group_size=250)
    >>> stream = ParquetStream(path, buffer_rows=500)
    >>> stream.n_rows
    1000
    >>> model = IndependentSynthesizer(random_state=0).fit(stream)
    >>> model.sample(3, random_state=0).shape
    (3, 8)
    """

    def __init__(self, source, *, buffer_rows=100_000, columns=None):
        if isinstance(buffer_rows, bool) or not isinstance(buffer_rows, (int, np.integer)) or (
            buffer_rows < 2
        ):
            raise ValueError(f"buffer_rows must be an integer of at least 2; got "
                             f"buffer_rows={buffer_rows!r}.")
        if columns is not None and (isinstance(columns, str) or not all(
                isinstance(c, str) for c in columns)):
            raise TypeError(f"columns must be a list of column names; got columns={columns!r}.")
        self.source = source
        self.buffer_rows = int(buffer_rows)
        self.columns = None if columns is None else list(columns)
        self._opened = None

    def __repr__(self):
        return f"ParquetStream({self.source!r}, buffer_rows={self.buffer_rows})"

    # ---------------------------------------------------------------- opening
    def _open(self):
        """``(dataset, columns, units)``, opened once."""
        if self._opened is None:
            _, ds = _pyarrow()
            dataset = self._dataset(ds)
            names = list(dataset.schema.names)
            if self.columns is None:
                columns = [c for c in names if not _INDEX_COLUMN.match(c)]
            else:
                unknown = [c for c in self.columns if c not in names]
                if unknown:
                    raise ValueError(f"columns {unknown} are not in the data (it has {names}).")
                columns = list(self.columns)
            if not columns:
                raise ValueError(f"{self!r} has no columns to read.")
            units, offset = [], 0
            for fragment in _fragments(dataset):
                for piece, n in _pieces(fragment):
                    if n:
                        units.append(_Unit(piece, n, offset))
                        offset += n
            if not units:
                raise ValueError(f"{self!r} holds no rows.")
            self._opened = (dataset, columns, units)
        return self._opened

    def _dataset(self, ds):
        source = self.source
        if not isinstance(source, (str, os.PathLike)):
            if not hasattr(source, "get_fragments"):
                raise TypeError(
                    "A ParquetStream reads a path (str or os.PathLike) or a "
                    f"pyarrow.dataset.Dataset; got {type(source).__name__}.")
            return source
        path = os.fspath(source)
        if os.path.isdir(path):
            files = sorted(
                os.path.join(root, name)
                for root, _, names in os.walk(path) for name in names
                if name.lower().endswith(_PARQUET_SUFFIXES))
            if not files:
                raise ValueError(f"The folder {path!r} holds no Parquet file (*.parquet, *.pq).")
            # hive partitions (``key=value`` folders, as pandas, pyarrow and Spark write
            # them) become columns; files of other formats are left out
            return ds.dataset(files, format="parquet", partitioning="hive",
                              partition_base_dir=path)
        if not os.path.exists(path):
            raise ValueError(f"No such file or folder: {path!r}.")
        if not path.lower().endswith(_PARQUET_SUFFIXES):
            raise ValueError(
                f"fit reads Parquet files (.parquet, .pq) or folders of them from a path; got "
                f"{path!r}. Load other formats with pandas, or pass a pyarrow.dataset.Dataset.")
        return ds.dataset(path, format="parquet")

    @property
    def n_rows(self):
        """Rows of the table (from the files' metadata)."""
        return sum(u.n_rows for u in self._open()[2])

    # ---------------------------------------------------------------- reading
    def _frames(self, units, *, batch_rows):
        """The record batches of ``units``, in that order, as pandas DataFrames."""
        dataset, columns, _ = self._open()
        for unit in units:
            for batch in unit.fragment.to_batches(schema=dataset.schema, columns=columns,
                                                  batch_size=batch_rows):
                if batch.num_rows:
                    yield _to_pandas(batch)

    def chunks(self, rows=None):
        """The table in its fixed order, as DataFrames of about ``rows`` rows each.

        Parameters
        ----------
        rows : int, default=None
            Rows per chunk (``buffer_rows`` by default); the last chunk may be shorter.

        Yields
        ------
        chunk : DataFrame
        """
        import pandas as pd

        rows = self.buffer_rows if rows is None else int(rows)
        held, n = [], 0
        for frame in self._frames(self._open()[2], batch_rows=min(rows, 65_536)):
            held.append(frame)
            n += len(frame)
            if n >= rows:
                yield pd.concat(held, ignore_index=True) if len(held) > 1 else held[0]
                held, n = [], 0
        if held:
            yield pd.concat(held, ignore_index=True) if len(held) > 1 else held[0]

    def fit_encoder(self, encoder):
        """Fit ``encoder`` in one pass with ``partial_fit``; return the fitted encoder.

        The chunks come in the table's fixed order (files sorted, row groups in order), so
        the same files give the same encoder. The returned encoder is rebuilt from its state
        (``from_state(get_state())``): the pass's sketches are not kept.
        """
        fitted = False
        for chunk in self.chunks():
            encoder.partial_fit(chunk)
            fitted = True
        if not fitted:  # pragma: no cover - _open refuses an empty table
            raise ValueError(f"{self!r} holds no rows.")
        return type(encoder).from_state(encoder.get_state())


def _fragments(dataset):
    fragments = list(dataset.get_fragments())
    if all(hasattr(f, "path") for f in fragments):
        fragments.sort(key=lambda f: f.path)
    return fragments


def _pieces(fragment):
    """``(piece, rows)`` of a fragment: its row groups for Parquet, else itself."""
    if hasattr(fragment, "split_by_row_group"):
        fragment.ensure_complete_metadata()
        pieces = fragment.split_by_row_group()
        return [(p, sum(rg.num_rows for rg in p.row_groups)) for p in pieces]
    return [(fragment, fragment.count_rows())]


def _to_pandas(batch):
    """A record batch as pandas, dictionary columns decoded to their values (each batch has
    its own dictionary: a categorical dtype would differ from batch to batch)."""
    pa, _ = _pyarrow()
    if any(pa.types.is_dictionary(f.type) for f in batch.schema):
        arrays = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c
                  for c in batch.columns]
        batch = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
    return batch.to_pandas()


def _batch_sizes(n_rows, n_batches):
    """The batch sizes of ``torch.tensor_split`` cutting ``n_rows`` rows in ``n_batches``."""
    base, extra = divmod(n_rows, n_batches)
    return [base + 1] * extra + [base] * (n_batches - extra)


class StreamBatches:
    """The batch source of a streamed fit: encoded record batches, shuffled in a buffer.

    Same protocol as :class:`~skmixsynth.nn.TensorBatches` (``iter_epoch(generator)``,
    ``n_rows``, ``n_batches``). Each epoch draws an order of the row groups from
    ``generator``, reads them in that order, encodes each record batch with ``encode``, and
    whenever ``buffer_rows`` encoded rows are held, permutes them (from ``generator``) and
    cuts as many batches as they fill; what remains waits for the next fill. The batches have
    the sizes :class:`~skmixsynth.nn.TensorBatches` gives (``ceil(n_rows / batch_size)``
    nearly equal batches), so no batch has fewer than two rows unless the table has.

    Parameters
    ----------
    stream : ParquetStream
    encode : callable
        DataFrame -> tuple of 2-D arrays with one row per input row (the one-hot matrix, or
        the per-column views).
    batch_size : int
    device : torch.device
    units : list, default=None
        The row groups this process reads (all by default).
    stride : (int, int), default=None
        ``(rank, world)``: keep only the rows whose position in the table is ``rank``
        modulo ``world`` (a shard of a table with fewer row groups than processes).
    n_batches : int, default=None
        Batches per epoch (``ceil(n_rows / batch_size)`` by default); every process of a
        data-parallel fit must take the same number of steps.
    skip : (int, int), default=None
        ``(r, m)``: leave out the rows whose position in the table is ``r`` modulo ``m``
        (the rows a model holds out for early stopping). Not with ``stride``.
    """

    def __init__(self, stream, encode, batch_size, device, *, units=None, stride=None,
                 n_batches=None, skip=None):
        if stride is not None and skip is not None:
            raise ValueError("StreamBatches takes stride or skip, not both.")
        self.stream = stream
        self.encode = encode
        self.batch_size = int(batch_size)
        self.device = device
        self.units = list(stream._open()[2] if units is None else units)
        self.stride = stride
        self.skip = skip
        self._n_rows = sum(self._kept(u) for u in self.units)
        self._n_batches = n_batches

    def _kept(self, unit):
        if self.skip is not None:
            r, m = self.skip
            return unit.n_rows - len(range((r - unit.offset) % m, unit.n_rows, m))
        if self.stride is None:
            return unit.n_rows
        rank, world = self.stride
        first = (rank - unit.offset) % world
        return len(range(first, unit.n_rows, world))

    @property
    def n_rows(self):
        """Rows per epoch (of this process)."""
        return self._n_rows

    @property
    def n_batches(self):
        """Batches per epoch."""
        if self._n_batches is not None:
            return self._n_batches
        return max(1, math.ceil(self.n_rows / self.batch_size))

    def iter_epoch(self, generator):
        """Yield the batches of one epoch: tensors on ``device``, or tuples of them."""
        sizes = _batch_sizes(self.n_rows, self.n_batches)
        buffer_rows = self.stream.buffer_rows
        order = torch.randperm(len(self.units), generator=generator,
                               device=generator.device).tolist()
        held, n_held, b = [], 0, 0
        for unit in (self.units[i] for i in order):
            for frame in self._unit_frames(unit):
                held.append(self.encode(frame))
                n_held += len(frame)
                if n_held >= buffer_rows:
                    held, n_held, b = yield from self._drain(held, n_held, sizes, b, generator)
        held, n_held, b = yield from self._drain(held, n_held, sizes, b, generator)
        if b != len(sizes) or n_held:
            raise RuntimeError(
                f"The stream gave {sum(sizes[:b]) + n_held} rows this epoch where its metadata "
                f"promised {self.n_rows}: did the files change during training?")

    def _unit_frames(self, unit):
        frames = self.stream._frames([unit], batch_rows=min(self.stream.buffer_rows, 65_536))
        if self.skip is not None:
            r, m = self.skip
            start = unit.offset
            for frame in frames:
                keep = (np.arange(start, start + len(frame)) % m) != r
                start += len(frame)
                if keep.any():
                    yield frame[keep]
            return
        if self.stride is None:
            yield from frames
            return
        rank, world = self.stride
        start = unit.offset
        for frame in frames:
            first = (rank - start) % world
            start += len(frame)
            if first < len(frame):
                yield frame.iloc[first::world]

    def _drain(self, held, n_held, sizes, b, generator):
        """Permute the buffer and yield the batches it fills; return what is left."""
        if not n_held:
            return held, n_held, b
        parts = [np.concatenate(p) if len(held) > 1 else p[0] for p in zip(*held, strict=True)]
        perm = torch.randperm(n_held, generator=generator, device=generator.device).cpu().numpy()
        parts = [p[perm] for p in parts]
        pos = 0
        while b < len(sizes) and n_held - pos >= sizes[b]:
            end = pos + sizes[b]
            tensors = tuple(torch.from_numpy(np.ascontiguousarray(p[pos:end])).to(self.device)
                            for p in parts)
            yield tensors[0] if len(tensors) == 1 else tensors
            pos, b = end, b + 1
        rest = [p[pos:] for p in parts]
        return ([tuple(rest)] if n_held - pos else []), n_held - pos, b
