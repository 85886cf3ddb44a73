"""Loader of the real benchmark tables.

A dataset ``name`` is a folder ``<data_home>/<name>/`` holding ``data.csv.gz`` (a gzip CSV with
a header row, missing values as empty cells) and ``meta.json`` (``name``, ``rows``, per-column
``type`` ``"numerical"``/``"categorical"``, ``target``, ``task``, ``source``, ``notes``). The data
files are never shipped with the package: point ``SKMIXSYNTH_DATA`` (or ``data_home``) at a folder
with that layout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

__all__ = ["get_data_home", "list_datasets", "load_dataset"]

ENV_VAR = "SKMIXSYNTH_DATA"
DATA_FILE = "data.csv.gz"
META_FILE = "meta.json"
NUMERICAL = "numerical"
CATEGORICAL = "categorical"


def _cache_home():
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "skmixsynth"


def _search_path(data_home=None):
    """The folders searched for datasets, in order, with how each was chosen."""
    if data_home is not None:
        return [(Path(data_home).expanduser(), "data_home argument")]
    places = []
    env = os.environ.get(ENV_VAR)
    if env:
        places.append((Path(env).expanduser(), f"{ENV_VAR} environment variable"))
    places.append((_cache_home(), "user cache folder"))
    return places


def get_data_home(data_home=None):
    """Return the folder where datasets are looked for first.

    The order is: the ``data_home`` argument when given; else the folder named by the
    ``SKMIXSYNTH_DATA`` environment variable when it is set and not empty; else the user cache
    folder ``$XDG_CACHE_HOME/skmixsynth`` (``~/.cache/skmixsynth`` when ``XDG_CACHE_HOME`` is not
    set). The folder is neither created nor checked.

    Parameters
    ----------
    data_home : str or path-like, default=None
        An explicit folder; ``~`` is expanded.

    Returns
    -------
    path : pathlib.Path
        The folder.

    See Also
    --------
    load_dataset : Load a dataset from that folder.

    Examples
    --------
    >>> from skmixsynth.datasets import get_data_home
    >>> get_data_home("/data/tables").as_posix()
    '/data/tables'
    >>> get_data_home().name  # doctest: +SKIP
    'skmixsynth'
    """
    return _search_path(data_home)[0][0]


def _has_dataset(folder, name):
    return (folder / name / DATA_FILE).is_file() and (folder / name / META_FILE).is_file()


def list_datasets(data_home=None):
    """List the names of the datasets available.

    A dataset is available when a folder ``<name>/`` of the search path holds both
    ``data.csv.gz`` and ``meta.json``. Without ``data_home`` the search path is the folder of
    ``SKMIXSYNTH_DATA`` (when set), then the user cache folder (see :func:`get_data_home`).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Only look in this folder.

    Returns
    -------
    names : list of str
        Sorted, without duplicates; empty when nothing is found.

    See Also
    --------
    load_dataset : Load one of them.

    Examples
    --------
    >>> from skmixsynth.datasets import list_datasets
    >>> list_datasets("/nonexistent/folder")
    []
    >>> list_datasets()  # doctest: +SKIP
    ['abalone', 'adult', 'ionosphere', 'lending_club', 'mushroom', 'news', 'sonar']
    """
    names = set()
    for folder, _ in _search_path(data_home):
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir() if _has_dataset(folder, p.name))
    return sorted(names)


def _check_name(name):
    if (
        not isinstance(name, str)
        or not name
        or name in {".", ".."}
        or any(sep in name for sep in ("/", "\\", os.sep))
    ):
        raise ValueError(
            f"name must be a dataset name such as 'adult' (a folder name, no path separators); "
            f"got {name!r}."
        )


def _find(name, data_home):
    places = _search_path(data_home)
    for folder, _ in places:
        if _has_dataset(folder, name):
            return folder / name
    looked = "\n".join(
        f"  - {folder / name} ({how}): "
        + ", ".join(
            f"{f} {'found' if (folder / name / f).is_file() else 'missing'}"
            for f in (DATA_FILE, META_FILE)
        )
        for folder, how in places
    )
    available = sorted({n for folder, _ in places for n in list_datasets(folder)})
    hint = f"Datasets available there: {available}.\n" if available else ""
    raise FileNotFoundError(
        f"Dataset {name!r} was not found. Looked in:\n{looked}\n{hint}"
        f"The data files are not shipped with skmixsynth. Provide them by setting the "
        f"{ENV_VAR} environment variable to (or passing data_home=) a folder with the layout\n"
        f"  <data_home>/{name}/{DATA_FILE}   (gzip CSV with a header row, empty cells = missing)\n"
        f"  <data_home>/{name}/{META_FILE}      (name, rows, columns with their type, target, "
        "task)\n"
        f"or place that folder in the user cache folder {_cache_home()}."
    )


def _read_meta(path):
    with open(path, encoding="utf-8") as fh:
        meta = json.load(fh)
    columns = meta.get("columns")
    if not isinstance(columns, list) or not columns:
        raise ValueError(f"{path} has no 'columns' list.")
    for col in columns:
        if col.get("type") not in (NUMERICAL, CATEGORICAL):
            raise ValueError(
                f"{path}: column {col.get('name')!r} has type {col.get('type')!r}; expected "
                f"'{NUMERICAL}' or '{CATEGORICAL}'."
            )
    return meta


def _natural_categories(values):
    """Sorted levels; numerically sorted when every level reads as a number ('2' < '10')."""
    levels = pd.unique(values.dropna())
    as_num = pd.to_numeric(pd.Series(levels, dtype=object), errors="coerce")
    if len(levels) and as_num.notna().all():
        order = np.lexsort((np.asarray(levels, dtype=object).astype(str), as_num.to_numpy()))
        return [levels[i] for i in order]
    return sorted(levels)


def _as_numeric(series, name, path):
    values = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & values.isna()
    if bad.any():
        raise ValueError(
            f"{path}: numerical column {name!r} holds non-numeric values such as "
            f"{series[bad].iloc[0]!r}."
        )
    values = values.astype("float64")
    arr = values.to_numpy()
    if (
        len(arr)
        and np.isfinite(arr).all()
        and (arr == np.floor(arr)).all()
        and np.abs(arr).max() < 2.0**63
    ):
        return values.astype("int64")
    return values


def load_dataset(name, *, data_home=None, return_X_y=False):
    """Load a real benchmark table with the column types declared in its ``meta.json``.

    The folder ``<data_home>/<name>/`` must hold ``data.csv.gz`` and ``meta.json``. Without
    ``data_home`` the dataset is looked for in the folder named by the ``SKMIXSYNTH_DATA``
    environment variable (when set), then in the user cache folder (see :func:`get_data_home`);
    the first folder holding it wins.

    Types are applied from ``meta.json``, not guessed: categorical columns are read as text and
    become pandas ``category`` columns (so 0/1 indicator columns typed categorical, such as
    ionosphere's ``a01``, have the levels ``'0'`` and ``'1'``; levels that all read as numbers are
    ordered numerically). Numerical columns are ``int64`` when every value is whole and none is
    missing, ``float64`` otherwise. Only empty cells are missing values (texts such as ``"NA"``
    are kept as they are).

    Parameters
    ----------
    name : str
        The dataset, e.g. ``"adult"``; a folder name.
    data_home : str or path-like, default=None
        Only look in this folder.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``frame`` (DataFrame with all columns, in file order), ``target`` (name of the
        target column), ``task`` (``"classification"`` or ``"regression"``), ``meta`` (the dict
        read from ``meta.json``), ``categorical_columns`` and ``numerical_columns`` (lists of
        names in file order, target included).
    (X, y) : tuple of DataFrame and Series
        When ``return_X_y=True``: the frame without the target, and the target column.

    Raises
    ------
    FileNotFoundError
        If no folder of the search path holds the dataset; the message lists every place looked
        in and how to provide the files.
    ValueError
        If ``name`` is not a plain folder name, or the CSV does not match ``meta.json``.

    See Also
    --------
    list_datasets : The names available.

    Examples
    --------
    >>> from skmixsynth.datasets import load_dataset
    >>> data = load_dataset("ionosphere")  # doctest: +SKIP
    >>> data.frame.shape  # doctest: +SKIP
    (351, 35)
    >>> data.frame["a01"].dtype  # doctest: +SKIP
    CategoricalDtype(categories=['0', '1'], ordered=False, categories_dtype=str)
    >>> X, y = load_dataset("adult", return_X_y=True)  # doctest: +SKIP
    >>> y.name  # doctest: +SKIP
    'income'
    """
    _check_name(name)
    folder = _find(name, data_home)
    meta = _read_meta(folder / META_FILE)
    columns = [c["name"] for c in meta["columns"]]
    categorical = [c["name"] for c in meta["columns"] if c["type"] == CATEGORICAL]
    numerical = [c["name"] for c in meta["columns"] if c["type"] == NUMERICAL]

    path = folder / DATA_FILE
    # Everything is read as text first so that the declared types, not pandas' guesses, decide.
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], compression="gzip")
    if list(raw.columns) != columns:
        raise ValueError(
            f"The columns of {path} do not match {folder / META_FILE}: the CSV has "
            f"{list(raw.columns)}, meta.json declares {columns}."
        )
    kinds = {c["name"]: c["type"] for c in meta["columns"]}
    frame = pd.DataFrame(
        {
            col: (
                pd.Categorical(raw[col], categories=_natural_categories(raw[col]))
                if kinds[col] == CATEGORICAL
                else _as_numeric(raw[col], col, path)
            )
            for col in columns
        },
        index=raw.index,
    )

    target = meta.get("target")
    if target is not None and target not in frame.columns:
        raise ValueError(f"{folder / META_FILE}: target {target!r} is not one of its columns.")
    if return_X_y:
        if target is None:
            raise ValueError(f"Dataset {name!r} declares no target; use return_X_y=False.")
        return frame.drop(columns=target), frame[target]
    return Bunch(
        frame=frame,
        target=target,
        task=meta.get("task"),
        meta=meta,
        categorical_columns=categorical,
        numerical_columns=numerical,
    )
