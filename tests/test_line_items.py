"""Line items are read in one pass (models/items.py) with exactly the values and errors of
`LineItem`'s own validation: the fast pass must never accept what the model refuses, nor read a
value differently."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

import benefits
from benefits.models.claim import Category, LineItem
from benefits.models.items import LineItems, Row, _row_of, _Slow
from conftest import claim
from generators import examples

MODELS = TypeAdapter(list[LineItem])
CATEGORIES = {c.value: c for c in Category} | {c: c for c in Category}

MONEYISH = st.one_of(
    st.sampled_from(["12.50", "0", "0.00", "-0.00", "012000", "1000000000.00", "1000000000.01", "1.005", "1e3",
                     "１２", " 12", "abc", "", "NaN", "-1", "+5", ".5", "5."]),
    st.integers(-5, 10**10), st.booleans(), st.floats(allow_nan=True), st.none(),
    st.decimals(allow_nan=True, allow_infinity=True, places=3), st.just([]), st.just({}),
)
DECIMALISH = st.one_of(MONEYISH, st.sampled_from(["0.5", "1.5", "1000000", "1000000.1", "0.10", "1", "1.01", "2"]))


@st.composite
def items(draw) -> list:
    out = []
    for i in range(draw(st.integers(0, 4))):
        item = {"id": draw(st.sampled_from([f"i{i}", "", None, 7, f"i{i}"])),
                "category": draw(st.sampled_from(["A", "B", "C", "D", Category.B, None, ["A"], "a"])),
                "unit_price": draw(MONEYISH)}
        for key, values in (("quantity", DECIMALISH), ("payment_standard", MONEYISH), ("self_pay_share", DECIMALISH),
                            ("name", st.sampled_from([None, "药", 3])), ("colour", st.just("red"))):
            if draw(st.integers(0, 3)) == 0:
                item[key] = draw(values)
        out.append(item if draw(st.integers(0, 9)) else draw(st.sampled_from([[], "x", None])))
    return out


def _exact(row) -> tuple:
    """What the calculator reads of a row: fen, and fractions by value (1250/100 is 25/2)."""
    assert type(row) is tuple  # the bill split's loop unpacks exact tuples
    row = Row._make(row)
    return (row.id, row.name, row.category, row.price, Fraction(row.qn, row.qd), row.standard,
            None if row.share is None else Fraction(*row.share))


@settings(max_examples=examples(10))
@given(value=items())
def test_the_fast_pass_reads_exactly_what_the_model_reads(value):
    try:
        fast = LineItems.fast(value, CATEGORIES)
    except _Slow:
        return  # pydantic's validation decides, as it always did
    models = MODELS.validate_python(value)  # must not raise: the fast pass accepted it
    assert [_exact(r) for r in fast.rows] == [_exact(_row_of(m)) for m in models]  # the same fen and fractions
    assert fast.list() == models  # the same values to readers
    for mine, theirs in zip(fast.list(), models):  # and the same digits
        assert [str(getattr(mine, f)) for f in LineItem.model_fields] == [str(getattr(theirs, f)) for f in LineItem.model_fields]


def test_the_common_shape_takes_the_fast_pass():
    rows = [{"id": "i1", "category": "B", "unit_price": "12.50", "quantity": "3", "self_pay_share": "0.10"},
            {"id": "i2", "category": "A", "unit_price": 7, "payment_standard": Decimal("6.50")}]
    assert [Row._make(r).id for r in LineItems.fast(rows, CATEGORIES).rows] == ["i1", "i2"]


@pytest.mark.parametrize("bad, message", [
    ({"id": "i1", "category": "B", "unit_price": "x"}, "claim.items.0.unit_price: expected an amount in yuan such as 1234.50, got 'x'"),
    ({"id": "i1", "category": ["B"], "unit_price": "1.00"}, "claim.items.0.category: Input should be 'A', 'B' or 'C'"),
    ({"id": "i1", "category": "B", "unit_price": "1.00", "colour": "red"}, "claim.items.0.colour: unknown key"),
])
def test_a_bad_item_gets_the_models_error_with_its_path(jiangmen, bad, message):
    with pytest.raises(benefits.ClaimError) as exc:
        benefits.evaluate(claim(bill=None, items=[bad]), jiangmen)
    assert str(exc.value).startswith(message)


def test_readers_see_line_item_models_and_the_same_dump(jiangmen):
    raw = [{"id": "i1", "category": "B", "unit_price": "12.50", "quantity": "3"}]
    c = benefits.Claim.model_validate(claim(bill=None, items=raw))
    assert isinstance(c.items[0], LineItem) and c.items[0].unit_price == Decimal("12.50")
    assert benefits.Claim.model_validate_json(c.model_dump_json()) == c
    assert c.model_dump()["items"][0]["quantity"] == Decimal("3")
