"""Small helpers to group records and format mean ± std cells."""

from __future__ import annotations

import math
from collections import defaultdict

from ._results import number

MODEL_ORDER = ("identity", "independent", "mixgan", "ctgan", "tvae")
DASH = "—"


def model_label(model, overrides):
    """``mixgan`` or, with command-line overrides, ``mixgan (epochs=10)``."""
    if not overrides:
        return model
    return f"{model} ({', '.join(f'{k}={v}' for k, v in sorted(overrides.items()))})"


def label_sort_key(label):
    """Identity first, then our models, the peers, then anything else alphabetically."""
    base = label.split(" (")[0]
    rank = MODEL_ORDER.index(base) if base in MODEL_ORDER else len(MODEL_ORDER)
    return rank, label


def group(records, *fields):
    """``{tuple of field values: [records]}`` keeping the records' order."""
    groups = defaultdict(list)
    for record in records:
        groups[tuple(record.get(f) for f in fields)].append(record)
    return groups


def dig(record, path):
    """``record["a"]["b"]`` for ``path="a.b"``, as a float; ``None`` when absent."""
    value = record
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return number(value) if not isinstance(value, dict) else None


def finite(values):
    """The values that are finite numbers."""
    return [v for v in values if v is not None and math.isfinite(v)]


def mean_std(values):
    """``(mean, std, n)`` of the finite values (sample std, ddof=1; 0 for one value)."""
    vals = finite(values)
    if not vals:
        return None, None, 0
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return mean, std, len(vals)


def _decimals(value, digits):
    """``digits``, or for ``None`` the decimals that give three significant figures."""
    if digits is not None:
        return digits
    if value == 0 or not math.isfinite(value):
        return 0
    return max(0, 2 - math.floor(math.log10(abs(value))))


def _number_text(value, decimals):
    if 0 < abs(value) < 10.0**-decimals / 2 and decimals >= 3:
        return f"<{10.0**-decimals:.{decimals}f}" if value > 0 else f"{value:.1e}"
    return f"{value:,.{decimals}f}"


def cell(values, digits=3):
    """``mean ± std`` over seeds (just the value for one seed); ``inf`` kept; ``—`` if none."""
    present = [v for v in values if v is not None]
    if present and all(math.isinf(v) for v in present):
        return "inf"
    mean, std, n = mean_std(present)
    if n == 0:
        return DASH
    decimals = min(_decimals(mean, digits), 4)
    text = _number_text(mean, decimals)
    if n > 1:
        text += f" ± {std:,.{decimals}f}"
    if len(present) > n:
        text += f" ({len(present) - n} inf)"
    return text


def table(header, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
