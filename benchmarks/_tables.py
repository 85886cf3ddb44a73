"""Tables passed between the benchmark and its workers: a CSV plus a JSON schema.

A worker may run under another interpreter (the peers' one, whose pandas is 2.x), so tables
travel as plain CSV (floats written with ``repr`` precision, so they round-trip exactly) and a
schema that restores the dtypes: ``category`` (with its categories), ``bool``, ``int``,
``float`` or ``text``. Only pandas and the standard library are used here.
"""

from __future__ import annotations

import json

import pandas as pd

CATEGORY, BOOL, INT, FLOAT, TEXT = "category", "bool", "int", "float", "text"
NUMERIC_KINDS = (INT, FLOAT)


def _plain(value):
    """A numpy scalar as the matching Python scalar (JSON-friendly)."""
    return value.item() if hasattr(value, "item") else value


def column_kind(dtype):
    """The schema kind of a pandas dtype."""
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORY
    if pd.api.types.is_bool_dtype(dtype):
        return BOOL
    if pd.api.types.is_integer_dtype(dtype):
        return INT
    if pd.api.types.is_float_dtype(dtype):
        return FLOAT
    return TEXT


def table_schema(frame):
    """The schema of a DataFrame: ``{"columns": [{"name", "kind", ["categories"]}]}``."""
    columns = []
    for name, series in frame.items():
        entry = {"name": str(name), "kind": column_kind(series.dtype)}
        if entry["kind"] == CATEGORY:
            entry["categories"] = [_plain(c) for c in series.dtype.categories]
        columns.append(entry)
    return {"columns": columns}


def columns_of_kind(schema, *kinds):
    """Names of the schema's columns whose kind is one of ``kinds``."""
    return [c["name"] for c in schema["columns"] if c["kind"] in kinds]


def write_table(frame, csv_path, schema_path=None):
    """Write ``frame`` as CSV (no index) and, when ``schema_path`` is given, its schema."""
    frame.to_csv(csv_path, index=False)
    if schema_path is not None:
        with open(schema_path, "w", encoding="utf-8") as fh:
            json.dump(table_schema(frame), fh)


def read_schema(schema_path):
    """Read a schema written by :func:`write_table`."""
    with open(schema_path, encoding="utf-8") as fh:
        return json.load(fh)


def _restore_category(raw, categories):
    lookup = {str(c): c for c in categories}
    values = raw.map(lambda v: lookup.get(v, v), na_action="ignore")
    extra = sorted({v for v in raw.dropna().unique() if v not in lookup})
    return pd.Categorical(values, categories=[*categories, *extra])


def _restore_bool(raw):
    truth = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    values = raw.str.lower().map(truth)
    if values.isna().any():
        return values.astype("boolean")
    return values.astype(bool)


def _restore_number(raw, kind):
    try:  # Python's float() parses correctly rounded (pandas 2's parser can be 1 ulp off)
        values = raw.astype(object).astype("float64")
    except (TypeError, ValueError):
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
    if kind == INT and values.notna().all() and (values == values.round()).all():
        return values.astype("int64")
    return values


def _restore(raw, column):
    kind = column["kind"]
    if kind == CATEGORY:
        return _restore_category(raw, column["categories"])
    if kind == BOOL:
        return _restore_bool(raw)
    if kind in NUMERIC_KINDS:
        return _restore_number(raw, kind)
    return raw.astype(object)


def read_table(csv_path, schema):
    """Read a CSV written by :func:`write_table` (or by a worker) with the dtypes of ``schema``.

    Integer columns that came back with missing or fractional values stay float64; values of a
    categorical column unknown to the schema become extra categories.
    """
    raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_values=[""])
    names = [c["name"] for c in schema["columns"]]
    missing = [n for n in names if n not in raw.columns]
    if missing:
        raise ValueError(f"{csv_path} lacks the columns {missing}.")
    return pd.DataFrame({c["name"]: _restore(raw[c["name"]], c) for c in schema["columns"]})
