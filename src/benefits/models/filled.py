"""Files whose keys all say something: a key with nothing after it is refused, not read as left out."""

from __future__ import annotations

from pydantic import BaseModel, model_validator


class Filled(BaseModel):
    """A model read from a file someone writes by hand (a rule file, a case's expected values). A key with
    nothing after it (`when:`, `counter: ~`, `patient:`) reads as null, which for an optional field would be
    the key left out, and nothing would say so: a row whose `when:` was emptied holds for every claim, a
    cap without its counter is one per claim, a case's expected amount emptied is not checked."""

    @model_validator(mode="before")
    @classmethod
    def _nothing_left_empty(cls, data: object) -> object:
        if isinstance(data, dict):
            empty = [f"`{key}:`" for key, value in data.items() if value is None]
            if len(empty) == 1:
                raise ValueError(f"{empty[0]} is null (written with nothing after it, ~ or null); give it a value, or "
                                 "leave the key out")
            if empty:
                raise ValueError(f"{', '.join(empty)} are null (written with nothing after them, ~ or null); give each "
                                 "a value, or leave the keys out")
        return data
