"""Building result models from the engine's own values, without validating them again.

`BaseModel.model_construct` skips validation but still walks every field for defaults and
aliases: about 5 µs per model, a dozen models per settlement. The engine's values are already
exact and complete, so it sets the instance's state directly, the way model_construct does in
the end. `tests/test_models.py` holds this to model_construct for every result model; pydantic
is pinned below 3 in pyproject.toml because these four attributes are pydantic 2's.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def trusted(cls: type[M], fields: dict) -> M:
    """An instance of `cls` holding `fields` (every field of the model, already valid) as they are."""
    obj = cls.__new__(cls)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", set(fields))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj
