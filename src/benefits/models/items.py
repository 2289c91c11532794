"""A claim's line items, read in one pass into a compact form (费用明细).

A stay has 50-300 fee lines; validating each as a pydantic model was most of the cost of settling
one. `LineItems` reads the common shape (a mapping of the known keys, amounts as decimal text or
integers) in one Python pass, straight into integer fen and exact fractions, with the same rules
as `LineItem`'s validation. Anything else (a sign, an exponent, a mistake) is handed to pydantic's
validation of `list[LineItem]`, so every error is the one the model gives, with its path.

Fee lines in the national platform's 2204/2301 shape (`feedetl_sn`, `pric`, `cnt`, ...) are read
as ours first (`platform_in`); they never reach the fast pass's keys, so our own shape pays nothing
for them.

To readers it is a sequence of `LineItem` models, made when first read; the calculator reads the
compact rows (`rows`) and never makes them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from ..memo import Memo
from ..money import MAX_AMOUNT, from_fen, is_bounded, parse_decimal, parse_money, to_fen
from .lazy import Lazy


class Row(NamedTuple):
    """One line item as the calculator reads it: money in fen, quantity and share as exact
    fractions; `quantity` and `self_pay_share` as given, for the `LineItem` made when read.

    `LineItems.rows` holds plain tuples in this order, not `Row`s: the bill split's loop unpacks
    each, and a tuple subclass unpacks through the iterator protocol, a fifth of the loop's time.
    `Row._make(row)` names the fields where speed does not matter."""

    id: str
    name: str | None
    category: Any  # claim.Category
    price: int  # unit price, fen
    qn: int  # quantity = qn / qd
    qd: int
    standard: int | None  # payment standard (支付标准), fen
    share: tuple[int, int] | None  # 乙类先行自付比例 as (numerator, denominator)
    quantity: object  # as given (text, int or Decimal): the model keeps its digits
    self_pay_share: object


_KEYS = frozenset(("id", "name", "category", "unit_price", "quantity", "payment_standard", "self_pay_share"))
_MAX_FEN = to_fen(MAX_AMOUNT)
_MAX_QUANTITY = 1000000
MAX_ITEM_ID = 200
"""The longest line item id (the platform's feedetl_sn, 费用明细流水号): a settlement lists each item's split
by it, and the ledger stores it."""


class _Slow(Exception):
    """The fast pass declines this input: pydantic's validation decides."""


def _digits(text: str) -> bool:
    return text.isdigit() and text.isascii()  # isdigit() alone takes '²' and other scripts' digits


_SCALE = (100, 10, 1)  # fen per unit of the last digit, by the number of decimals


def _fen_of_text(text: str) -> int:
    whole, dot, cents = text.partition(".")
    digits = whole + cents
    if not (_digits(digits) and 0 < len(whole) <= 10 and len(cents) <= 2 and (cents or not dot)):
        raise _Slow
    return int(digits) * _SCALE[len(cents)]


def _fraction_of_text(text: str) -> tuple[int, int]:
    whole, dot, decimals = text.partition(".")
    digits = whole + decimals
    if not (_digits(digits) and whole and len(text) <= 40 and (decimals or not dot)):
        raise _Slow
    return int(digits), 10 ** len(decimals)


# A stay repeats its quantities ('1', '2') and many prices; reading text is a pure function of it.
_FEN_TEXT = Memo(_fen_of_text, 65536)
_FRACTION_TEXT = Memo(_fraction_of_text, 65536)


def _fen(value: object) -> int:
    """Money as given in JSON or YAML (decimal text with at most two decimals, or an int) in fen."""
    if type(value) is str:
        fen = _FEN_TEXT[value]
    elif type(value) is int:
        fen = value * 100
    elif type(value) is Decimal:
        try:
            return to_fen(parse_money(value))
        except ValueError:
            raise _Slow from None
    else:
        raise _Slow
    if not 0 <= fen <= _MAX_FEN:
        raise _Slow
    return fen


def _fraction(value: object) -> tuple[int, int]:
    """A quantity or share (decimal text or an int) as an exact fraction."""
    if type(value) is str:
        return _FRACTION_TEXT[value]
    if type(value) is int:
        return value, 1
    if type(value) is Decimal and value.is_finite() and -20 < value.adjusted() < 8 and is_bounded(value):
        return value.as_integer_ratio()
    raise _Slow


def _row_of(item) -> tuple:
    """A validated `LineItem`'s values as a row (the fields of `Row`, a plain tuple)."""
    share = item.self_pay_share
    return (item.id, item.name, item.category, to_fen(item.unit_price), *item.quantity.as_integer_ratio(),
            None if item.payment_standard is None else to_fen(item.payment_standard),
            None if share is None else share.as_integer_ratio(), item.quantity, share)


def _data_of(row: Row) -> dict:
    """A row as the line item it was read from."""
    return {"id": row.id, "name": row.name, "category": row.category, "unit_price": from_fen(row.price),
            "quantity": row.quantity, "payment_standard": None if row.standard is None else from_fen(row.standard),
            "self_pay_share": row.self_pay_share}


class LineItems(Lazy):
    """The line items of a claim: `LineItem`s to readers (made when first read), rows (the
    fields of `Row`) to the calculator."""

    __slots__ = ("rows",)

    def __init__(self, rows: list[tuple]):
        super().__init__(make=self._models)
        self.rows = rows

    def _models(self) -> list:
        from .claim import LineItem

        return [LineItem.model_construct(
            id=r.id, name=r.name, category=r.category, unit_price=from_fen(r.price),
            quantity=parse_decimal(r.quantity), payment_standard=None if r.standard is None else from_fen(r.standard),
            self_pay_share=parse_decimal(r.self_pay_share)) for r in map(Row._make, self.rows)]

    def __len__(self) -> int:
        return len(self.rows)

    def __reduce__(self):
        return (type(self), (self.rows,))  # copied and pickled as its rows: the models are made again when read

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other)  # as models: '3' and 3 are the same quantity

    __hash__ = None

    # --- reading ---------------------------------------------------------------------------------

    @staticmethod
    def fast(value: object, categories: dict) -> "LineItems":
        """The common shape, read in one pass; _Slow for anything else."""
        if type(value) is not list:
            raise _Slow
        rows = []
        append = rows.append
        for item in value:
            if type(item) is not dict or not _KEYS.issuperset(item):
                raise _Slow
            id_ = item.get("id")
            name = item.get("name")
            category = item.get("category")
            category = categories.get(category) if type(category) is str or isinstance(category, Enum) else None
            if (type(id_) is not str or not 0 < len(id_) <= MAX_ITEM_ID or (name is not None and type(name) is not str)
                    or category is None):
                raise _Slow
            quantity = item.get("quantity", 1)
            qn, qd = _fraction(quantity)
            if not 0 < qn <= _MAX_QUANTITY * qd:
                raise _Slow
            standard = item.get("payment_standard")
            share = item.get("self_pay_share")
            if share is not None:
                sn, sd = _fraction(share)
                if not 0 <= sn <= sd:
                    raise _Slow
            append((id_, name, category, _fen(item.get("unit_price")), qn, qd,  # a Row's fields
                    None if standard is None else _fen(standard), None if share is None else (sn, sd), quantity, share))
        ids = "".join([row[0] for row in rows])
        if not (ids.isascii() and ids.isprintable()) or (" " in ids and any(
                row[0][0] == " " or row[0][-1] == " " for row in rows)):
            raise _Slow  # an id of other characters, or a space at an end: `LineItem`'s check decides
        return LineItems(rows)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        from .claim import Category, LineItem

        as_models = handler.generate_schema(list[LineItem])
        categories = {c.value: c for c in Category} | {c: c for c in Category}

        def validate(value: object, models) -> LineItems:
            if isinstance(value, LineItems):  # a caller's rows, or another claim's: read again, as data
                value = [_data_of(Row._make(row)) for row in value.rows]
            try:
                return cls.fast(value, categories)
            except _Slow:
                pass
            from .platform_in import items_from_fee_lines  # here: a claim in our own shape never needs it

            lines = items_from_fee_lines(value)  # the platform's 2204/2301 fee lines, read as ours
            if lines is not value:
                try:
                    return cls.fast(lines, categories)
                except _Slow:
                    value = lines
            return cls([_row_of(m) for m in models(value)])  # pydantic decides, and names every problem

        return core_schema.no_info_wrap_validator_function(
            validate, as_models,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.list() if isinstance(value, LineItems) else value, return_schema=as_models),
        )
