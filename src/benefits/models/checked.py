"""Which model instances were validated, and validating the others.

Pydantic validates a model built from data, but not one made by `model_construct`, nor the fields a
`model_copy(update=...)` sets (its documentation says so). Such an instance can hold a float amount,
a bill whose parts do not add up, a dict where a model belongs; settled as it is, it paid wrong money
or failed with a raw AttributeError. So a claim or accumulators instance is marked by its own
validation (and by the engine on what it computed itself); `validated` settles a marked instance as
it is and validates any other anew from its data, with each problem's path.
"""

from __future__ import annotations

import weakref
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, model_validator

from ..errors import ClaimError, ClaimProblem, error_message, error_path

M = TypeVar("M", bound=BaseModel)

# The validated instances that are alive, by id: a registry beside the models, not a private
# attribute in them, which pydantic would compare in __eq__ and copy along with a
# model_copy(update=...). An entry goes when its instance does, so an id reused by a later object
# is not found, and every instance a caller keeps stays marked: a service that validates a batch
# of claims first settles them without validating any again, however large the batch.
_CHECKED: dict[int, weakref.ref] = {}


def _forget(key: int, ref: weakref.ref) -> None:
    """An instance marked under `key` has gone: its entry goes too (unless a later one took the id)."""
    if _CHECKED.get(key) is ref:
        del _CHECKED[key]


def _mark(instance: BaseModel) -> None:
    key = id(instance)
    _CHECKED[key] = weakref.ref(instance, partial(_forget, key))


class Checked(BaseModel):
    """A model whose instances are known to have been validated (`validated`)."""

    @model_validator(mode="after")
    def _validated(self):
        _mark(self)
        return self


def trusted(instance: M) -> M:
    """`instance`, marked validated: for values the engine computed itself (whole fen, bounds checked)."""
    _mark(instance)
    return instance


def validated(model: type[M], value: Any, what: str) -> M:
    """`value` (data or an instance) as a validated `model`; ClaimError with each problem's path under `what`."""
    if isinstance(value, model):
        ref = _CHECKED.get(id(value))
        if ref is not None and ref() is value:
            return value
        try:  # made without validation: validated anew from what it holds
            value = value.model_dump(warnings=False)
        except Exception as exc:  # noqa: BLE001 - what an unvalidated instance may hold is anything
            raise ClaimError.at((what,), f"a {model.__name__} made without validation that cannot be read: "
                                         f"{type(exc).__name__}; build it from data (model_validate)") from None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ClaimError([ClaimProblem((what,) + error_path(err), error_message(err)) for err in exc.errors()]) from None
