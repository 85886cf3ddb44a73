"""Tests of skmixsynth.Layout and skmixsynth.Span (the encoded matrix's block map)."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skmixsynth import Layout, MixedTypeEncoder, Span


def make_layout(n_numerical, cardinalities, missing_at=()):
    """Numerical spans first, then one softmax span per cardinality.

    Spans whose position is in ``missing_at`` are of kind "missing" (their width is forced to 2).
    """
    spans, pos = [], 0
    for i in range(n_numerical):
        spans.append(Span(f"x{i}", "numerical", pos, pos + 1, "sigmoid", ("",)))
        pos += 1
    for j, card in enumerate(cardinalities):
        if j in missing_at:
            spans.append(Span(f"x{j}", "missing", pos, pos + 2, "softmax", ("present", "missing")))
            pos += 2
        else:
            labels = tuple(f"l{k}" for k in range(card))
            spans.append(Span(f"c{j}", "categorical", pos, pos + card, "softmax", labels))
            pos += card
    return Layout(tuple(spans))


layouts = st.builds(
    lambda n, cards, miss: make_layout(n, cards, {j for j in miss if j < len(cards)}),
    st.integers(0, 5),
    st.lists(st.integers(1, 7), max_size=6),
    st.sets(st.integers(0, 5), max_size=3),
)


# --------------------------------------------------------------------------------- Span
def test_span_dim_and_slice():
    s = Span("colour", "categorical", 3, 6, "softmax", ("red", "green", "blue"))
    assert s.dim == 3
    assert s.slice == slice(3, 6)
    Z = np.arange(20).reshape(2, 10)
    np.testing.assert_array_equal(Z[:, s.slice], [[3, 4, 5], [13, 14, 15]])


def test_span_and_layout_are_frozen():
    s = Span("x", "numerical", 0, 1, "sigmoid")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.start = 3
    lay = Layout((s,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        lay.spans = ()


# ------------------------------------------------------------------------------- Layout
def test_layout_properties_on_a_known_layout():
    lay = Layout(
        (
            Span("a", "numerical", 0, 1, "sigmoid", ("",)),
            Span("b", "numerical", 1, 2, "sigmoid", ("",)),
            Span("c", "categorical", 2, 5, "softmax", ("p", "q", "r")),
            Span("b", "missing", 5, 7, "softmax", ("present", "missing")),
            Span("d", "categorical", 7, 8, "softmax", ("only",)),
        )
    )
    assert lay.width == 8
    assert lay.n_numerical == 2
    assert lay.numerical_slice == slice(0, 2)
    assert lay.discrete_slice == slice(2, 8)
    assert lay.cardinalities == (3, 2, 1)
    assert [s.column for s in lay.numerical_spans] == ["a", "b"]
    assert [(s.column, s.kind) for s in lay.discrete_spans] == [
        ("c", "categorical"),
        ("b", "missing"),
        ("d", "categorical"),
    ]
    index, mask = lay.discrete_index()
    assert index.dtype == np.int64
    assert mask.dtype == bool
    np.testing.assert_array_equal(index, [[2, 3, 4], [5, 6, 0], [7, 0, 0]])
    np.testing.assert_array_equal(
        mask, [[True, True, True], [True, True, False], [True, False, False]]
    )


def test_empty_layout():
    lay = Layout(())
    assert lay.width == 0
    assert lay.n_numerical == 0
    assert lay.cardinalities == ()
    index, mask = lay.discrete_index()
    assert index.shape == (0, 0)
    assert mask.shape == (0, 0)
    assert Layout.from_dict(json.loads(json.dumps(lay.to_dict()))) == lay


def test_only_numerical_layout_has_empty_discrete_index():
    lay = make_layout(3, [])
    assert lay.width == 3
    assert lay.discrete_slice == slice(3, 3)
    index, mask = lay.discrete_index()
    assert index.shape == (0, 0)
    assert not mask.any()


@settings(max_examples=80, deadline=None)
@given(lay=layouts, seed=st.integers(0, 2**32 - 1))
def test_discrete_index_gathers_each_span(lay, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(5, lay.width))
    index, mask = lay.discrete_index()
    spans = lay.discrete_spans
    assert index.shape == mask.shape == (len(spans), max((s.dim for s in spans), default=0))
    gathered = Z[:, index]
    assert gathered.shape == (5, *index.shape)
    for i, s in enumerate(spans):
        np.testing.assert_array_equal(gathered[:, i, : s.dim], Z[:, s.slice])
        assert mask[i].sum() == s.dim
        assert mask[i, : s.dim].all()
        # padded positions point at column 0
        assert (index[i, s.dim :] == 0).all()
    assert tuple(mask.sum(axis=1)) == lay.cardinalities
    # every discrete column appears exactly once among the real positions
    np.testing.assert_array_equal(
        np.sort(index[mask]), np.arange(lay.n_numerical, lay.width)
    )
    # the discrete block and the numerical block tile the matrix
    assert lay.numerical_slice.stop == lay.discrete_slice.start
    assert lay.n_numerical + sum(lay.cardinalities) == lay.width


@settings(max_examples=80, deadline=None)
@given(lay=layouts)
def test_to_dict_from_dict_round_trip(lay):
    data = lay.to_dict()
    text = json.dumps(data)  # plain JSON
    back = Layout.from_dict(json.loads(text))
    assert back == lay
    assert all(isinstance(s.labels, tuple) for s in back.spans)
    assert back.discrete_index()[0].tolist() == lay.discrete_index()[0].tolist()


def test_to_dict_from_dict_of_an_encoder_layout():
    df = pd.DataFrame(
        {"x": [0.5, np.nan, 2.5, 1.0], "c": ["a", "b", None, "a"], "k": [1, 2, 3, 4]}
    )
    lay = MixedTypeEncoder().fit(df).layout_
    back = Layout.from_dict(json.loads(json.dumps(lay.to_dict())))
    assert back == lay
    assert back.cardinalities == (2, 3)  # x's missing indicator, then c with its nan level


# ----------------------------------------------------------------------- invalid layouts
@pytest.mark.parametrize(
    "spans, match",
    [
        ((Span("x", "numerical", 1, 2, "sigmoid"),), "contiguous"),  # does not start at 0
        ((Span("c", "categorical", 0, 0, "softmax"),), "non-empty"),  # empty block
        ((Span("c", "categorical", 0, -1, "softmax"),), "non-empty"),  # negative width
        (
            (
                Span("x", "numerical", 0, 1, "sigmoid"),
                Span("c", "categorical", 2, 4, "softmax"),
            ),
            "contiguous",
        ),  # gap
        (
            (
                Span("c", "categorical", 0, 2, "softmax"),
                Span("d", "categorical", 1, 3, "softmax"),
            ),
            "contiguous",
        ),  # overlap
        (
            (
                Span("c", "categorical", 0, 2, "softmax"),
                Span("x", "numerical", 2, 3, "sigmoid"),
            ),
            "before discrete",
        ),  # numerical after a discrete span
        ((Span("x", "numerical", 0, 2, "sigmoid"),), "one column wide"),
        ((Span("x", "ordinal", 0, 2, "softmax"),), "Unknown span kind 'ordinal'"),
    ],
)
def test_invalid_layouts_raise(spans, match):
    with pytest.raises(ValueError, match=match):
        Layout(spans)


def test_from_dict_rejects_an_invalid_layout():
    data = make_layout(1, [3]).to_dict()
    data["spans"][1]["start"] = 2  # leaves a gap
    with pytest.raises(ValueError, match="contiguous"):
        Layout.from_dict(data)


# -------------------------------------------------------------------------- column map
def test_column_map_of_an_encoder_layout():
    df = pd.DataFrame(
        {"x": [0.5, np.nan, 2.5, 1.0], "c": ["a", "b", None, "a"], "k": [1, 2, 3, 4]}
    )
    lay = MixedTypeEncoder().fit(df).layout_
    assert [(s.kind, s.start, s.stop) for s in lay.column_spans("x")] == [
        ("numerical", 0, 1), ("missing", 2, 4)]
    assert [s.kind for s in lay.column_spans("c")] == ["categorical"]
    assert [s.kind for s in lay.column_spans("k")] == ["numerical"]
    assert lay.column_spans("nope") == ()
    assert (lay.numerical_position("x"), lay.numerical_position("k")) == (0, 1)
    assert lay.numerical_position("c") is None
    assert (lay.discrete_position("x"), lay.discrete_position("c")) == (0, 1)
    assert lay.discrete_position("k") is None
    # a non-string name is looked up by its string, like Span.column
    lay = MixedTypeEncoder().fit(pd.DataFrame({0: ["a", "b"]})).layout_
    assert lay.discrete_position(0) == lay.discrete_position("0") == 0


@settings(max_examples=40, deadline=None)
@given(lay=layouts)
def test_column_map_agrees_with_the_spans(lay):
    for j, s in enumerate(lay.discrete_spans):
        assert lay.discrete_position(s.column) <= j  # make_layout may repeat names
        assert s in lay.column_spans(s.column)
    for j, s in enumerate(lay.numerical_spans):
        assert lay.numerical_position(s.column) == j
    assert sum(len(lay.column_spans(c)) for c in {s.column for s in lay.spans}) == len(lay.spans)
    # the cached map does not change equality or hashing
    assert lay == Layout.from_dict(lay.to_dict())
    assert hash(lay) == hash(Layout.from_dict(lay.to_dict()))


@settings(max_examples=60, deadline=None)
@given(lay=layouts, seed=st.integers(0, 2**32 - 1))
def test_width_groups_gather_the_same_levels(lay, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(4, lay.width))
    block = Z[:, lay.discrete_slice]
    full, full_mask = lay.discrete_index()
    rel, rel_mask = lay.discrete_index(relative=True)
    np.testing.assert_array_equal(rel_mask, full_mask)
    np.testing.assert_array_equal(block[:, rel][:, rel_mask], Z[:, full][:, full_mask])
    seen = []
    for k, members in lay.discrete_groups():
        assert k & (k - 1) == 0  # a power of two
        index, mask = lay.discrete_index(members, width=k, relative=True)
        assert index.shape == (len(members), k)
        for r, j in enumerate(members):
            s = lay.discrete_spans[j]
            assert k // 2 < s.dim <= k
            np.testing.assert_array_equal(block[:, index[r, mask[r]]], Z[:, s.slice])
        seen += members
    assert sorted(seen) == list(range(len(lay.discrete_spans)))
