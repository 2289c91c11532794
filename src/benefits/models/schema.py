"""The JSON Schemas `benefits schema` prints: our input documents with every rule JSON Schema can
state, and what `benefits calc --json` prints.

The models check more than pydantic writes into a schema by itself. Stated here (Draft 2020-12):

- amounts: text of the digits the models read (at most two decimals that are not zero, at most
  1,000,000,000.00, never negative; '-0.00' is zero), or a number >= 0 that is a multipleOf 0.01;
- quantities above 0 and shares from 0 to 1, as numbers or as decimal text;
- dates: YYYY-MM-DD in ASCII digits (and `format: date`);
- a claim has `bill` or `items`, exactly one, and at least one line; a stay (inpatient, day
  surgery) has admission_date and discharge_date and no `date`, any other visit a `date` and
  neither; out of the province it says whether it was filed; `items` may be our line items or
  the platform's fee lines (models/platform_in.py), one shape per list;
- a member's type is one of its scheme's.

What it cannot state is left to the engine: that a bill's parts add up, distinct line-item ids, a
fee line's total against its price and quantity, discharge after admission, which levels,
services, dates and disease codes a rule pack covers, anything about the accumulators.

**multipleOf and floats.** A validator that reads JSON numbers as binary floats computes
0.07 / 0.01 = 7.000000000000001 and refuses a valid amount; one that reads them as decimals (Python's
`jsonschema` on data and schema read by `benefits.loads`) is exact. The schema keeps `multipleOf`
(it is the only way to say "two decimals" of a number, and generators such as schemathesis need it);
a producer whose validator uses floats should send amounts as text, which the pattern checks
exactly everywhere.
"""

from __future__ import annotations

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from ..dates import parse_day
from ..money import MAX_AMOUNT, parse_money
from .accumulators import Accumulators
from .case import CaseFile
from .claim import MEMBER_TYPES, STAYS, Claim, Member
from .filled import Filled
from .platform_in import FeeLine
from .platform_out import FeeLineSplit, SetlDetail, SetlInfo
from .settlement import Settlement

# --- text the models read as numbers ----------------------------------------------------------
# Each pattern accepts exactly the text the model's parse function accepts (money.py: ASCII digits,
# an optional sign and decimal point), within the bounds JSON Schema can give text.

_NEGATIVE_ZERO = r"-(?:0+(?:\.0*)?|0*\.0+)"  # '-0.00' reads as zero
_TWO_PLACES = r"(?:\.[0-9]{0,2}0*)?"  # trailing zeros are no decimals: 12.500 is 12.50
_LARGEST = str(int(MAX_AMOUNT))  # 1000000000, with no decimals but zeros
MONEY_TEXT = (rf"^(?:\+?(?:0*[0-9]{{1,{len(_LARGEST) - 1}}}{_TWO_PLACES}|0*{_LARGEST}(?:\.0*)?|\.[0-9]{{1,2}}0*)"
              rf"|{_NEGATIVE_ZERO})$")
POSITIVE_TEXT = r"^\+?(?:[0-9]*[1-9][0-9]*(?:\.[0-9]*)?|0*\.[0-9]*[1-9][0-9]*)$"  # a digit that is not 0
SHARE_TEXT = rf"^(?:\+?(?:0+(?:\.[0-9]*)?|0*\.[0-9]+|0*1(?:\.0*)?)|{_NEGATIVE_ZERO})$"  # 0 to 1
DECIMAL_TEXT = r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

MONEY = {
    "anyOf": [
        {"type": "string", "pattern": MONEY_TEXT},
        {"type": "number", "minimum": 0, "maximum": int(MAX_AMOUNT), "multipleOf": 0.01},
    ],
    "$comment": "yuan with at most two decimals: '1234.50' (exact in every validator) or 1234.50",
}


def _given(name: str) -> dict:
    """The key is present and not null."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def _absent(name: str) -> dict:
    """The key is absent or null."""
    return {"properties": {name: {"type": "null"}}}


CLAIM_RULES = [
    {"$comment": "`bill` (already split) or `items` (line items): exactly one",
     "oneOf": [_given("bill"), _given("items")]},
    {"$comment": "a stay has admission and discharge dates and no `date`; any other visit its `date` only",
     "if": {"required": ["visit"], "properties": {"visit": {"enum": [v.value for v in STAYS]}}},
     "then": {"allOf": [_given("admission_date"), _given("discharge_date"), _absent("date")]},
     "else": {"allOf": [_given("date"), _absent("admission_date"), _absent("discharge_date")]}},
    {"$comment": "out of the province, whether the stay was filed (异地备案)",
     "if": {"required": ["region"], "properties": {"region": {"const": "out_of_province"}}},
     "then": _given("filed")},
    {"$comment": "at least one line", "properties": {"items": {"minItems": 1}}},
]

MEMBER_RULES = [
    {"$comment": f"{scheme.value} members: member_type is one of the scheme's",
     "if": {"required": ["scheme"], "properties": {"scheme": {"const": scheme.value}}},
     "then": {"properties": {"member_type": {"enum": [t.value for t in types] + [None]}}}}
    for scheme, types in MEMBER_TYPES.items()
]


class InputSchema(GenerateJsonSchema):
    """pydantic's schema of our input models, with the rules above (pydantic's public hook: a
    `schema_generator` for `model_json_schema`)."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        check = schema["function"]["function"]
        if check is parse_money:
            return dict(MONEY)
        if check is parse_day:
            return {"type": "string", "format": "date", "pattern": DATE_TEXT}
        return super().function_before_schema(schema)  # parse_decimal: decimal_schema below

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        number = super().decimal_schema(schema)["anyOf"][0]  # the number, with the field's bounds
        bounds = {k: schema[k] for k in ("gt", "ge", "lt", "le") if k in schema}
        if bounds.get("gt") == 0:
            text = POSITIVE_TEXT
        elif bounds.get("ge") == 0 and bounds.get("le") == 1:
            text = SHARE_TEXT
        else:
            text = DECIMAL_TEXT
        return {"anyOf": [number, {"type": "string", "pattern": text}]}

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        if issubclass(schema["cls"], Filled):  # a key of such a file is given a value or left out, never null
            for name, prop in out.get("properties", {}).items():
                out["properties"][name] = _not_null(prop)
        if schema["cls"] is Member:
            out["allOf"] = MEMBER_RULES
        elif schema["cls"] is Claim:
            ours = out["properties"]["items"]["anyOf"][0]
            fee_lines = {"type": "array", "items": self.generate_inner(FeeLine.__pydantic_core_schema__)}
            out["properties"]["items"]["anyOf"][:1] = [ours, fee_lines]
            out["properties"]["items"]["description"] = (
                "line items in our shape, or the platform's fee lines (2204 / 2301 feedetail); one shape per list")
            out["allOf"] = CLAIM_RULES
        return out


def _not_null(prop: JsonSchemaValue) -> JsonSchemaValue:
    """An optional property's schema without its null (pydantic writes `anyOf: [..., {type: null}]`, default null)."""
    choices = [c for c in prop.get("anyOf", ()) if c != {"type": "null"}]
    if "anyOf" not in prop or len(choices) == len(prop["anyOf"]):
        return prop
    rest = {k: v for k, v in prop.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**choices[0], **rest} if len(choices) == 1 else {"anyOf": choices, **rest}


def claim_schema() -> dict:
    """`benefits schema claim`."""
    return Claim.model_json_schema(schema_generator=InputSchema)


def accumulators_schema() -> dict:
    """`benefits schema accumulators`."""
    return Accumulators.model_json_schema(schema_generator=InputSchema)


def case_schema() -> dict:
    """`benefits schema case`: a case file, its claim as `claim_schema` states it."""
    return CaseFile.model_json_schema(schema_generator=InputSchema)


CALC_BLOCKS = {"setlinfo": SetlInfo, "setldetail": list[SetlDetail], "feedetail": list[FeeLineSplit]}


def calc_output_schema(ref_template: str = "#/$defs/{model}") -> dict:
    """`benefits schema settlement`: what `benefits calc --json` prints and the service's calculating
    endpoints answer, the `Settlement` as the API dumps it and the platform's blocks beside its keys
    (models/platform_out.py). The definitions it refers to are under `$defs`, referred to by
    `ref_template` (OpenAPI keeps them elsewhere)."""
    out = Settlement.model_json_schema(ref_template=ref_template)
    out["description"] = (f"{out.get('description', '')} As `benefits calc --json` prints it: the settlement, "
                          "and the national platform's setlinfo, setldetail and feedetail blocks.").strip()
    for key, shape in CALC_BLOCKS.items():
        block = TypeAdapter(shape).json_schema(mode="serialization", ref_template=ref_template)
        out.setdefault("$defs", {}).update(block.pop("$defs", {}))
        if "title" in block and block.get("type") == "object":  # the object itself: a definition too
            out["$defs"][block["title"]] = block
            block = {"$ref": ref_template.format(model=block["title"])}
        out["properties"][key] = block
        out["required"].append(key)
    return out
