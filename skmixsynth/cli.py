"""The ``skmixsynth`` command line: ``fit``, ``sample``, ``evaluate`` and ``demo``.

Installed as the ``skmixsynth`` console script and runnable as ``python -m skmixsynth``::

    skmixsynth fit real.csv --model mixgan -o model.pt
    skmixsynth sample model.pt -n 10000 -o synthetic.csv --seed 0
    skmixsynth evaluate real.csv synthetic.csv --holdout holdout.csv --target plan \\
        --report report.html
    skmixsynth demo

Built on :mod:`argparse` (the standard library: no extra dependency). Tables are CSV, or
Parquet through pandas and pyarrow (the optional extra ``skmixsynth[parquet]``, imported only
when a Parquet file is read or written). Every error is one line on stderr,
``skmixsynth: error: ...``, with exit status 1 (2 for a bad command line), never a traceback
unless ``--debug`` is given. ``docs/cli.md`` is the user guide.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import inspect
import logging
import os
import sys
import textwrap
import time
import warnings

import numpy as np
import pandas as pd

__all__ = ["available_models", "main"]

PROG = "skmixsynth"

#: rows sampled and written per step of ``skmixsynth sample`` (rounded to whole sampling chunks)
DEFAULT_CHUNK_ROWS = 100_000

_CSV_READ = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".csv.zst")
_CSV_WRITE = (".csv", ".csv.gz")
_PARQUET = (".parquet", ".pq")
_PARQUET_HINT = "pip install 'skmixsynth[parquet]'"


class CLIError(ValueError):
    """A user error, shown as one line on stderr (exit status 1)."""


# --------------------------------------------------------------------------------- models
def available_models():
    """The synthesizers the command line knows, by their short name.

    Every concrete :class:`~skmixsynth.BaseSynthesizer` subclass defined in skmixsynth is
    listed, found through the same class registry as :func:`skmixsynth.load`, so a model added
    to the package appears without any change here. The short name is the class name without
    ``Synthesizer``, in lower case (``MixGANSynthesizer`` -> ``mixgan``).

    Returns
    -------
    models : dict of {str: type}
        Sorted by name.

    Examples
    --------
    >>> from skmixsynth.cli import available_models
    >>> models = available_models()
    >>> models["mixgan"].__name__, models["independent"].__name__
    ('MixGANSynthesizer', 'IndependentSynthesizer')
    """
    from ._persistence import registry
    from .base import BaseSynthesizer

    found = {}
    for name, klass in registry(BaseSynthesizer).items():
        if (inspect.isabstract(klass) or name.startswith("_")
                or not klass.__module__.startswith("skmixsynth.")):
            continue
        short = name[: -len("Synthesizer")] if name.endswith("Synthesizer") else name
        found[short.lower()] = klass
    return dict(sorted(found.items()))


def _resolve_model(name):
    models = available_models()
    key = name.lower()
    for short, klass in models.items():
        if key in (short, klass.__name__.lower()):
            return short, klass
    raise CLIError(f"unknown model {name!r}{_did_you_mean(key, list(models))}; the models "
                   f"are: {', '.join(models)}")


def _did_you_mean(word, choices):
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _literal(text):
    """``text`` as a Python literal (``3``, ``0.5``, ``(64, 64)``, ``None``), else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _key_value(text):
    """argparse type of ``--set``: ``KEY=VALUE`` -> ``(key, value)``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


def _parameters(klass, short, settings):
    """The ``--set`` pairs as a dict of parameters, values parsed as Python literals."""
    valid = sorted(klass().get_params(deep=False))
    params = {}
    for key, text in settings or ():
        if key not in valid:
            raise CLIError(f"unknown parameter {key!r} for {short} ({klass.__name__})"
                           f"{_did_you_mean(key, valid)}; its parameters are: "
                           f"{', '.join(valid)}")
        params[key] = _literal(text)
    return params


def _apply_options(params, options):
    """Put the dedicated options (``--seed`` ...) into ``params``; both given is an error."""
    for flag, key, value in options:
        if value is None:
            continue
        if key in params:
            raise CLIError(f"{flag} and --set {key}=... are both given; keep one")
        params[key] = value
    return params


# --------------------------------------------------------------------------------- tables
def _table_format(path, *, write=False):
    lower = str(path).lower()
    if lower.endswith(_PARQUET):
        return "parquet"
    if lower.endswith(_CSV_WRITE if write else _CSV_READ):
        return "csv"
    allowed = ", ".join((_CSV_WRITE if write else _CSV_READ) + _PARQUET)
    raise CLIError(f"{path}: cannot tell the table format from the file name; use one of "
                   f"{allowed}")


def _require_pyarrow(path):
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise CLIError(f"{path}: Parquet files need pyarrow, which is not installed; "
                       f"{_PARQUET_HINT}") from None


def _check_input(path, what):
    if not os.path.exists(path):
        raise CLIError(f"{what} {path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{what} {path}: is a directory, not a file")


def _check_output(path, *, folder=False):
    """Fail before any work when ``path`` cannot be written (``folder``: a Parquet dataset,
    which is a directory)."""
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) and not folder:
        raise CLIError(f"output {path}: is a directory")
    if not os.path.isdir(parent):
        problem = "is not a directory" if os.path.exists(parent) else "does not exist"
        raise CLIError(f"output {path}: {parent} {problem}")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"output {path}: the directory {parent} is not writable")


def read_table(path, what="table"):
    """Read a CSV or Parquet file (or a folder of Parquet files, as ``sample`` writes)
    into a DataFrame; a user error names the file."""
    kind = _table_format(path)
    if not (kind == "parquet" and os.path.isdir(path)):
        _check_input(path, what)
    try:
        if kind == "parquet":
            _require_pyarrow(path)
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except CLIError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            ValueError) as exc:
        raise CLIError(f"{what} {path}: cannot be read as {kind.upper()} "
                       f"({_one_line(exc)})") from exc
    except Exception as exc:  # pyarrow's own errors (ArrowInvalid ...) have no common base here
        raise CLIError(f"{what} {path}: cannot be read as {kind.upper()} "
                       f"({type(exc).__name__}: {_one_line(exc)})") from exc


class _TableWriter:
    """Write a table chunk by chunk to ``path`` (CSV or Parquet), through a temporary file
    next to it that replaces ``path`` only once every chunk is written."""

    def __init__(self, path):
        self.path = path
        self.kind = _table_format(path, write=True)
        if self.kind == "parquet":
            _require_pyarrow(path)
        _check_output(path)
        self.partial = f"{path}.partial"
        self._handle = None
        self._schema = None
        self.n_rows = 0

    def write(self, frame):
        if self.kind == "csv":
            if self._handle is None:
                if str(self.path).lower().endswith(".gz"):
                    import gzip

                    self._handle = gzip.open(self.partial, "wt", newline="", encoding="utf-8")
                else:
                    self._handle = open(self.partial, "w", newline="", encoding="utf-8")
                frame.to_csv(self._handle, index=False)
            else:
                frame.to_csv(self._handle, index=False, header=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._handle is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                self._schema = table.schema
                self._handle = pq.ParquetWriter(self.partial, self._schema)
            else:
                table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            self._handle.write_table(table)
        self.n_rows += len(frame)

    def close(self, *, commit):
        if self._handle is not None:
            self._handle.close()
        if commit:
            os.replace(self.partial, self.path)
        else:
            with contextlib.suppress(OSError):
                os.remove(self.partial)


# ----------------------------------------------------------------------------- conditions
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _parse_value(text, dtype, column, item):
    """The condition value ``text`` as a value of ``dtype`` (the column's training dtype)."""
    def bad(what):
        return CLIError(f"condition {item!r}: column {column!r} holds {what}; {text!r} is not "
                        "one")

    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        if text in set(map(str, categories)) and categories.dtype.kind == "O":
            return text
        return _parse_value(text, categories.dtype, column, item) if len(categories) else text
    kind = getattr(dtype, "kind", "O")
    if text == "" and kind in "iufmM":
        return np.nan
    if kind in "iuf" and ".." in text:  # a range, both ends included; an empty end is open
        low, _, high = text.partition("..")
        try:
            ends = [float(v) if v else default for v, default in ((low, -np.inf),
                                                                   (high, np.inf))]
        except ValueError:
            raise bad("numbers (a range is LOW..HIGH)") from None
        if ends[0] > ends[1]:
            raise CLIError(f"condition {item!r}: the range's low end is above its high end")
        return pd.Interval(ends[0], ends[1], closed="both")
    if kind == "b":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise bad("true/false values")
    if kind in "iu":
        try:
            value = float(text)
        except ValueError:
            raise bad("integers") from None
        if not value.is_integer():
            raise bad("integers")
        return int(value)
    if kind == "f":
        try:
            return float(text)
        except ValueError:
            raise bad("numbers") from None
    if kind == "M":
        try:
            return pd.Timestamp(text)
        except (ValueError, TypeError):
            raise bad("dates and times") from None
    return text if text != "" else None


def parse_conditions(items, template):
    """``["col=value", ...]`` -> ``{col: value}``, each value parsed against the column's
    training dtype (``template`` is a sampled frame of zero rows). ``col=`` asks for a
    missing value; ``col=LOW..HIGH`` on a numerical column a range (a ``pandas.Interval``,
    both ends included; ``..HIGH`` and ``LOW..`` leave an end open)."""
    conditions = {}
    for item in items or ():
        column, sep, text = item.partition("=")
        if not sep or not column:
            raise CLIError(f"condition {item!r} is not COLUMN=VALUE")
        if column not in template.columns:
            raise CLIError(f"condition {item!r}: the model has no column {column!r}; its "
                           f"columns are {list(template.columns)}")
        conditions[column] = _parse_value(text, template[column].dtype, column, item)
    return conditions


# ------------------------------------------------------------------------------- commands
def _cmd_fit(args):
    short, klass = _resolve_model(args.model)
    params = _apply_options(_parameters(klass, short, args.set), [
        ("--seed", "random_state", args.seed),
        ("--device", "device", args.device),
        ("--categorical", "categorical_columns", args.categorical),
        ("--numerical", "numerical_columns", args.numerical),
    ])
    params.setdefault("verbose", 0 if args.quiet else 1)
    model = klass(**params)
    model._validate_params()  # bad values fail now, not after reading the data
    _check_output(args.output)
    frame = read_table(args.data, "data")
    start = time.perf_counter()
    interrupted = False
    with _progress_logging(model.verbose):
        try:
            model.fit(frame)
        except KeyboardInterrupt:
            if not hasattr(model, "modules_"):  # no epoch had finished: nothing to keep
                raise
            interrupted = True
    seconds = time.perf_counter() - start
    partial = f"{args.output}.partial"
    try:
        model.save(partial)
        os.replace(partial, args.output)
    finally:
        with contextlib.suppress(OSError):
            os.remove(partial)
    if not args.quiet:
        print(f"fitted {klass.__name__} on {frame.shape[0]} rows x {frame.shape[1]} columns in "
              f"{seconds:.1f} s ({_epochs_text(model)})")
        print(f"wrote {args.output}")
    if interrupted:
        print(f"{PROG}: interrupted; {args.output} holds the model of the last finished epoch",
              file=sys.stderr)
        return 130
    return 0


def _epochs_text(model):
    """``"12 epochs; last (gan): d_loss=1.3862, g_loss=0.6931"``: the end of the progress."""
    n = model.n_iter_
    text = f"{n} epoch{'' if n == 1 else 's'}"
    last = model.history_[-1] if model.history_ else {}
    losses = {k: v for k, v in last.items() if k not in ("phase", "epoch", "seconds")}
    if losses:
        text += f"; last ({last['phase']}): " + ", ".join(
            f"{k}={v:.4f}" for k, v in losses.items())
    return text


def _load(path, device):
    from .base import load

    _check_input(path, "model")
    return load(path, device=device)


def _cmd_sample(args):
    if args.n < 0:
        raise CLIError(f"-n must be a non-negative number of rows; got {args.n}")
    if args.chunk_size < 1:
        raise CLIError(f"--chunk-size must be at least 1; got {args.chunk_size}")
    if args.jobs == 0:
        raise CLIError("--jobs must be a number of processes (-1: all cores); got 0")
    if _table_format(args.output, write=True) == "parquet":
        return _sample_parquet(args)
    if args.jobs not in (None, 1):
        raise CLIError(f"--jobs writes the parts of a Parquet output in parallel; "
                       f"{args.output} is not one (use a .parquet output)")
    writer = _TableWriter(args.output)  # checks the extension and the folder before loading
    model = _load(args.model, args.device)
    conditions = None
    if args.conditions:
        conditions = parse_conditions(args.conditions, model.sample(0, random_state=0))
    # Every chunk draws its seeds from one RandomState seeded by --seed (or the model's own
    # stream): chunks of whole sampling blocks give the rows of one sample(n) call.
    unit = getattr(model, "_sample_chunk_size", 1) if conditions is None else 1
    step = max(1, args.chunk_size // unit) * unit
    rng = None if args.seed is None else np.random.RandomState(args.seed)
    bar = _row_bar(args.n, step, quiet=args.quiet)
    done = False
    try:
        remaining = args.n
        while True:
            rows = min(step, remaining)
            frame = model.sample(rows, conditions=conditions, random_state=rng)
            writer.write(frame)
            remaining -= rows
            if bar is not None:
                bar.update(rows)
            if remaining <= 0:
                break
        done = True
    finally:
        if bar is not None:
            bar.close()
        writer.close(commit=done)
    if not args.quiet:
        print(f"wrote {writer.n_rows} rows x {frame.shape[1]} columns to {args.output}")
    return 0


def _sample_parquet(args):
    """``sample`` to a Parquet dataset: ``BaseSynthesizer.sample_to_parquet`` (a folder of
    part files written through a staging folder, in parallel with ``--jobs``)."""
    from ._scale import sample_to_parquet

    _require_pyarrow(args.output)
    _check_output(args.output, folder=True)
    model = _load(args.model, args.device)
    template = model.sample(0, random_state=0)
    conditions = None
    if args.conditions:
        conditions = parse_conditions(args.conditions, template)
    unit = getattr(model, "_sample_chunk_size", 1) if conditions is None else 1
    bar = _row_bar(args.n, max(1, args.chunk_size // unit) * unit, quiet=args.quiet)
    try:
        _, records = sample_to_parquet(
            model, args.n, args.output, chunk_rows=args.chunk_size, random_state=args.seed,
            n_jobs=args.jobs, conditions=conditions, overwrite=True,
            on_part=None if bar is None else (lambda record: bar.update(record["rows"])))
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        files = len(records)
        print(f"wrote {args.n} rows x {template.shape[1]} columns to {args.output} "
              f"({files} Parquet file{'' if files == 1 else 's'} in a folder)")
    return 0


def _cmd_evaluate(args):
    from .metrics import evaluate

    for path in (args.report, args.json):
        if path is not None:
            _check_output(path)
    real = read_table(args.real, "REAL")
    synthetic = read_table(args.synthetic, "SYNTHETIC")
    holdout = None if args.holdout is None else read_table(args.holdout, "holdout")
    report = evaluate(real, synthetic, holdout=holdout, target=args.target, task=args.task,
                      train=None if args.no_privacy else real,
                      figures=args.report is not None, random_state=args.seed)
    print(report)
    if args.report is not None:
        report.to_html(args.report)
        print(f"wrote {args.report}")
    if args.json is not None:
        import json

        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report.to_dict(), handle, indent=1)
        print(f"wrote {args.json}")
    return 0


def _cmd_demo(args):
    from sklearn.model_selection import train_test_split

    from .datasets import make_mixed
    from .independent import IndependentSynthesizer
    from .metrics import column_pair_trends, column_shapes, quality_score

    short, klass = _resolve_model(args.model)
    params = _apply_options(_parameters(klass, short, args.set),
                            [("--seed", "random_state", args.seed)])
    params.setdefault("verbose", 0 if args.quiet else 1)
    if args.rows < 10:
        raise CLIError(f"--rows must be at least 10; got {args.rows}")
    if args.output_dir is not None and not os.path.isdir(args.output_dir):
        raise CLIError(f"--output-dir {args.output_dir}: no such directory")
    seed = args.seed
    model = klass(**params)
    model._validate_params()
    real = make_mixed(args.rows, missing_rate=0.02, random_state=seed)
    train, test = train_test_split(real, test_size=0.2, random_state=seed)
    print(f"simulated table (skmixsynth.datasets.make_mixed): {len(real)} rows x "
          f"{real.shape[1]} columns; {len(train)} to train on, {len(test)} held out")
    start = time.perf_counter()
    with _progress_logging(model.verbose):
        model.fit(train)
    print(f"fitted {klass.__name__} in {time.perf_counter() - start:.1f} s")
    synthetic = model.sample(len(test), random_state=seed)
    floor = IndependentSynthesizer(random_state=seed).fit(train).sample(len(test),
                                                                        random_state=seed)
    ceiling = train.sample(len(test), random_state=seed)
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print("\nfirst synthetic rows:")
        print(synthetic.head().to_string(index=False))
    rows = [
        (f"{short} (synthetic)", synthetic),
        ("floor: independent marginals", floor),
        ("ceiling: real training rows", ceiling),
    ]
    print("\nscores against the held-out rows (greater is better, 1 is perfect):")
    print(f"  {'':<30}{'shapes':>8}{'pair trends':>13}{'quality':>9}")
    for label, table in rows:
        print(f"  {label:<30}{column_shapes(test, table):>8.3f}"
              f"{column_pair_trends(test, table):>13.3f}{quality_score(test, table):>9.3f}")
    print("\nThe floor keeps every column's distribution and no dependency between columns; "
          "a model\nearns its keep on pair trends above the floor's, up to the ceiling.")
    if args.output_dir is not None:
        out = args.output_dir
        paths = {name: os.path.join(out, f"{name}.csv") for name in ("train", "holdout")}
        train.to_csv(paths["train"], index=False)
        test.to_csv(paths["holdout"], index=False)
        model.save(os.path.join(out, "model.pt"))
        print(f"\nwrote {paths['train']}, {paths['holdout']} and {os.path.join(out, 'model.pt')};"
              " go on with:")
        print(f"  {PROG} sample {os.path.join(out, 'model.pt')} -n {len(test)} --seed 0 "
              f"-o {os.path.join(out, 'synthetic.csv')}")
        print(f"  {PROG} evaluate {paths['train']} {os.path.join(out, 'synthetic.csv')} "
              f"--holdout {paths['holdout']} --target plan --report "
              f"{os.path.join(out, 'report.html')}")
    return 0


# ------------------------------------------------------------------------------ progress
@contextlib.contextmanager
def _progress_logging(verbose):
    """Without tqdm, a verbose fit's per-epoch log lines go to stderr (the bar needs tqdm)."""
    handler = None
    logger = logging.getLogger("skmixsynth")
    if verbose:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
            logger.addHandler(handler)
            previous = logger.level
            logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(previous)


def _row_bar(n, step, *, quiet):
    if quiet or n <= step:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=n, unit="row", unit_scale=True, desc="sampling", leave=False)


# -------------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``skmixsynth: error: ... (see 'PROG --help')``."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


class _FORMATTER(argparse.RawDescriptionHelpFormatter):
    """Paragraphs of prose are filled to the terminal; indented blocks (examples, the model
    list) and blocks with a heading line ("examples:") are kept as written."""

    def _fill_text(self, text, width, indent):
        blocks = []
        for block in text.split("\n\n"):
            lines = block.splitlines()
            if any(line.startswith(" ") or line.endswith(":") for line in lines):
                blocks.append(textwrap.indent(block, indent))
            else:
                blocks.append(textwrap.fill(" ".join(block.split()), width,
                                            initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(blocks)


def _models_text():
    lines = []
    for short, klass in available_models().items():
        doc = (inspect.getdoc(klass) or "").splitlines()
        lines.append(textwrap.fill(f"{klass.__name__}: {doc[0] if doc else ''}", 78,
                                   initial_indent=f"  {short:<14}",
                                   subsequent_indent=" " * 16))
    return "\n".join(lines)


def build_parser():
    """The argument parser of the ``skmixsynth`` command (used by :func:`main`)."""
    from . import __version__

    parser = _Parser(
        prog=PROG,
        formatter_class=_FORMATTER,
        description="Synthetic mixed-type tables: fit a synthesizer on a CSV or Parquet "
                    "table, sample a synthetic one, evaluate it.",
        epilog="examples:\n"
               f"  {PROG} demo\n"
               f"  {PROG} fit real.csv --model mixgan -o model.pt\n"
               f"  {PROG} sample model.pt -n 10000 --seed 0 -o synthetic.csv\n"
               f"  {PROG} evaluate real.csv synthetic.csv --report report.html\n\n"
               f"'{PROG} COMMAND --help' describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    models = available_models()

    common = _Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar (and, for fit and sample, no summary)")
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback on an error")

    fit = sub.add_parser(
        "fit", parents=[common], formatter_class=_FORMATTER,
        help="fit a synthesizer on a table and save it",
        description="Fit a synthesizer on a CSV or Parquet table and save it (torch state "
                    "dicts and JSON, loaded without pickled code).",
        epilog="models:\n" + _models_text() + "\n\nexamples:\n"
               f"  {PROG} fit real.csv --model mixgan -o model.pt\n"
               f"  {PROG} fit real.parquet --model mixgan --set epochs=300 "
               "--set batch_size=1000 --seed 0 -o model.pt\n"
               f"  {PROG} fit real.csv --model independent --categorical zip --categorical "
               "store_id -o floor.pt\n\n"
               "--set values are read as Python literals (300, 0.5, (256, 256), None) and "
               "otherwise as text.",
    )
    fit.add_argument("data", metavar="DATA", help="the training table (.csv or .parquet)")
    fit.add_argument("--model", "-m", required=True, metavar="NAME",
                     help=f"the synthesizer: {', '.join(models)}")
    fit.add_argument("--set", action="append", type=_key_value, metavar="KEY=VALUE",
                     help="a parameter of the model (repeat for several)")
    fit.add_argument("--categorical", action="extend", nargs="+", metavar="COL",
                     help="columns to model as categorical whatever their dtype")
    fit.add_argument("--numerical", action="extend", nargs="+", metavar="COL",
                     help="columns to model as numerical")
    fit.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    fit.add_argument("--seed", type=int, metavar="S",
                     help="random seed: the same seed gives the same model on this machine")
    fit.add_argument("-o", "--output", required=True, metavar="MODEL",
                     help="where to write the model (e.g. model.pt)")
    fit.set_defaults(func=_cmd_fit)

    sample = sub.add_parser(
        "sample", parents=[common], formatter_class=_FORMATTER,
        help="sample a synthetic table from a saved model",
        description="Sample N rows from a model written by 'skmixsynth fit' and write them as "
                    "CSV (.csv, .csv.gz) or Parquet (.parquet), by the output's extension. "
                    "Rows are generated and written in chunks, so memory stays bounded "
                    "whatever N. A Parquet output is a folder of part files, one per chunk "
                    "(pandas.read_parquet reads it as one table), written in parallel with "
                    "--jobs.",
        epilog="examples:\n"
               f"  {PROG} sample model.pt -n 10000 --seed 0 -o synthetic.csv\n"
               f"  {PROG} sample model.pt -n 50000000 --jobs 4 -o big.parquet\n"
               f"  {PROG} sample model.pt -n 500 --conditions region=north age=40 "
               "-o north.csv\n\n"
               "The same --seed gives the same file, equal to model.sample(N, "
               "random_state=S) in Python, whatever --chunk-size and --jobs (without --seed: "
               "the model's own stream, the same on every run). With --conditions and N above "
               "--chunk-size, the rows depend on --chunk-size too. A condition value is read "
               "as the column's type (a number, true/false, a date, a category); 'col=' asks "
               "for a missing value.",
    )
    sample.add_argument("model", metavar="MODEL", help="a model file written by 'fit'")
    sample.add_argument("-n", type=int, required=True, metavar="N", help="number of rows")
    sample.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="where to write the rows (.csv, .csv.gz, .parquet)")
    sample.add_argument("--seed", type=int, metavar="S", help="random seed")
    sample.add_argument("--conditions", action="extend", nargs="+", metavar="COL=VALUE",
                        help="values every row must hold; COL=LOW..HIGH: a range of a "
                             "numerical column (both ends included; ..HIGH, LOW.. open)")
    sample.add_argument("--device", help="load the model on this device (default: its own, "
                                         "or the CPU when that is absent)")
    sample.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_ROWS, metavar="ROWS",
                        help=f"rows generated and written at a time (default "
                             f"{DEFAULT_CHUNK_ROWS}; rounded to whole sampling blocks)")
    sample.add_argument("--jobs", "-j", type=int, metavar="J",
                        help="processes writing the parts of a Parquet output (-1: all "
                             "cores; default 1); the rows do not depend on it")
    sample.set_defaults(func=_cmd_sample)

    evaluate = sub.add_parser(
        "evaluate", parents=[common], formatter_class=_FORMATTER,
        help="score a synthetic table against the real one",
        description="Score a synthetic table against the real one (skmixsynth.metrics."
                    "evaluate): quality, marginal agreement, detection; with --holdout the "
                    "correlation maintenance; with --holdout and --target the machine-learning "
                    "efficacy; privacy checks with REAL taken as the synthesizer's training "
                    "rows. Prints the score table; --report writes the HTML report with its "
                    "figures.",
        epilog="examples:\n"
               f"  {PROG} evaluate real.csv synthetic.csv\n"
               f"  {PROG} evaluate train.csv synthetic.csv --holdout holdout.csv "
               "--target income --report report.html",
    )
    evaluate.add_argument("real", metavar="REAL", help="the real (training) table")
    evaluate.add_argument("synthetic", metavar="SYNTHETIC", help="the synthetic table")
    evaluate.add_argument("--holdout", metavar="FILE",
                          help="real rows the synthesizer did not see")
    evaluate.add_argument("--target", metavar="COL",
                          help="column predicted for the machine-learning efficacy "
                               "(needs --holdout)")
    evaluate.add_argument("--task", choices=("classification", "regression"),
                          help="inferred from the target's kind when not given")
    evaluate.add_argument("--no-privacy", action="store_true",
                          help="skip the privacy checks (when REAL is not the training rows)")
    evaluate.add_argument("--report", metavar="HTML", help="write the HTML report here")
    evaluate.add_argument("--json", metavar="FILE", help="write the report as JSON here")
    evaluate.add_argument("--seed", type=int, default=0, metavar="S",
                          help="seed of the metrics' models (default 0)")
    evaluate.set_defaults(func=_cmd_evaluate)

    demo = sub.add_parser(
        "demo", parents=[common], formatter_class=_FORMATTER,
        help="fit, sample and score on a simulated table (offline)",
        description="The main job on a simulated table that needs no download "
                    "(skmixsynth.datasets.make_mixed): fit a synthesizer on 80% of the rows, "
                    "sample as many rows as are held out, and print the scores beside the "
                    "floor (independent marginals) and the ceiling (real rows).",
        epilog="examples:\n"
               f"  {PROG} demo\n"
               f"  {PROG} demo --model independent --rows 2000\n"
               f"  {PROG} demo --output-dir demo/   # also writes the tables and the model",
    )
    demo.add_argument("--model", "-m", default="mixgan", metavar="NAME",
                      help=f"the synthesizer (default mixgan): {', '.join(models)}")
    demo.add_argument("--set", action="append", type=_key_value, metavar="KEY=VALUE",
                      help="a parameter of the model (repeat for several)")
    demo.add_argument("--rows", type=int, default=5000, help="rows simulated (default 5000)")
    demo.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    demo.add_argument("--output-dir", metavar="DIR",
                      help="write train.csv, holdout.csv and model.pt here")
    demo.set_defaults(func=_cmd_demo)
    return parser


# ---------------------------------------------------------------------------------- main
def _one_line(exc):
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = f"no such key or column {exc.args[0]!r}"
    return text or type(exc).__name__


def _fail(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


@contextlib.contextmanager
def _one_line_warnings():
    """Warnings as ``skmixsynth: warning: ...`` lines (no source line, no file name)."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"{PROG}: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def main(argv=None):
    """Run the ``skmixsynth`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 on an error (one line on stderr), 2 on a bad command line, 130 when
        interrupted.

    Examples
    --------
    >>> from skmixsynth.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    skmixsynth 0...
    0
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and command-line errors
        return exc.code if isinstance(exc.code, int) else 0
    with _one_line_warnings():
        try:
            return args.func(args)
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # stdout closed early (| head): stop quietly, as cat does
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return 141
        except CLIError as exc:
            if args.debug:
                raise
            return _fail(str(exc))
        except (ValueError, TypeError, KeyError, OSError, FloatingPointError,
                ImportError) as exc:
            if args.debug:
                raise
            return _fail(_one_line(exc))
        except Exception as exc:
            if args.debug:
                raise
            return _fail(f"unexpected {type(exc).__name__}: {_one_line(exc)} (run again with "
                         "--debug for the traceback)")
