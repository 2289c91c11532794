"""A list that is built when first read: what a settlement lists item by item (each line item's
split, the trace's text) costs more to build than the claim's arithmetic, and many callers never
read it (a service storing amounts, a simulation, `trace=False` callers of `items`).

`Lazy[T]` reads like a list of T (len, index, iterate, compare with a list); pydantic validates it
from a list and serialises it as one, calling `list()` first, so the JSON and the schema are those
of `list[T]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable, Generic, TypeVar, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

T = TypeVar("T")


class Lazy(Sequence, Generic[T]):
    __slots__ = ("_make", "_items")

    def __init__(self, items: list[T] | None = None, make: Callable[[], list[T]] | None = None):
        self._items = items if items is not None or make is not None else []
        self._make = make

    def list(self) -> list[T]:
        """The items, built now if they were not yet."""
        if self._items is None:
            self._items, self._make = self._make(), None
        return self._items

    def __len__(self) -> int:
        return len(self.list())

    def __getitem__(self, index):
        return self.list()[index]

    def __iter__(self):
        return iter(self.list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Lazy):
            return self.list() == other.list()
        return isinstance(other, list) and self.list() == other

    __hash__ = None  # like a list

    def __repr__(self) -> str:
        return repr(self.list())

    def __reduce__(self):
        # pickled (a settlement sent from a worker process, a pickle cache) as the list it is: the
        # function that builds it is a closure, which pickle cannot carry
        return (type(self), (self.list(),))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        (item,) = get_args(source) or (Any,)
        as_list = handler.generate_schema(list[item])
        return core_schema.no_info_after_validator_function(
            lambda items: cls(items), as_list,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.list() if isinstance(value, Lazy) else value, return_schema=as_list),
        )
