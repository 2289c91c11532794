"""A claim's line items, read in one pass into a compact form (费用明细).

A stay has 50-300 fee lines; validating each as a pydantic model was most of the cost of settling
one. `LineItems` reads the common shape (a mapping of the known keys, amounts as decimal text,
integers or Decimals) in one Python pass, with the same rules and the same values as `LineItem`'s
validation (the same parse functions). Anything else, a mistake included, is handed to pydantic's
validation of `list[LineItem]`, so every error is the one the model gives, with its path.

To readers it is a sequence of `LineItem` models, made when first read; the calculator reads the
compact rows (`rows`) and never makes them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from ..money import parse_decimal, parse_money
from .lazy import Lazy


class Row(NamedTuple):
    """One line item as validated: the values `LineItem` would hold."""

    id: str
    name: str | None
    category: Any  # claim.Category
    unit_price: Decimal
    quantity: Decimal
    payment_standard: Decimal | None
    self_pay_share: Decimal | None


_KEYS = frozenset(Row._fields)
_ONE = Decimal(1)
_MAX_QUANTITY = Decimal(1000000)


class _Slow(Exception):
    """The fast pass declines this input: pydantic's validation decides."""


def _money(value: object) -> Decimal:
    try:
        return parse_money(value)
    except ValueError:
        raise _Slow from None


def _decimal(value: object) -> Decimal:
    if type(value) is not str and type(value) is not int and type(value) is not Decimal:
        raise _Slow
    try:
        return parse_decimal(value)
    except ValueError:
        raise _Slow from None


class LineItems(Lazy):
    """The line items of a claim: `LineItem`s to readers (made when first read), `Row`s to the
    calculator."""

    __slots__ = ("rows",)

    def __init__(self, rows: list[Row]):
        super().__init__(make=self._models)
        self.rows = rows

    def _models(self) -> list:
        from .claim import LineItem

        return [LineItem.model_construct(**row._asdict()) for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LineItems):
            return self.rows == other.rows
        return super().__eq__(other)

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
            if type(id_) is not str or not id_ or (name is not None and type(name) is not str) or category is None:
                raise _Slow
            quantity = item.get("quantity")
            quantity = _ONE if quantity is None and "quantity" not in item else _decimal(quantity)
            if not 0 < quantity <= _MAX_QUANTITY:
                raise _Slow
            standard = item.get("payment_standard")
            share = item.get("self_pay_share")
            share = None if share is None else _decimal(share)
            if share is not None and not 0 <= share <= 1:
                raise _Slow
            append(Row(id_, name, category, _money(item.get("unit_price")), quantity,
                       None if standard is None else _money(standard), share))
        return LineItems(rows)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        from .claim import Category, LineItem

        as_models = handler.generate_schema(list[LineItem])
        categories = {c.value: c for c in Category} | {c: c for c in Category}

        def validate(value: object, models) -> LineItems:
            if isinstance(value, LineItems):
                return value
            try:
                return cls.fast(value, categories)
            except _Slow:  # pydantic decides, and names every problem
                return cls([Row(*(getattr(m, f) for f in Row._fields)) for m in models(value)])

        return core_schema.no_info_wrap_validator_function(
            validate, as_models,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.list() if isinstance(value, LineItems) else value, return_schema=as_models),
        )
