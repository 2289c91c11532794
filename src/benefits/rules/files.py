"""The shapes of rule files, as pydantic models. The loader validates every file against these.

A pack is a folder:
    pack.yaml            what the pack covers, its versions, counters and layer order
    parameters/*.yaml    every number, dated, each with its source (OpenFisca-style)
    layers/<id>.yaml     one file per layer: conditions (`when:`) naming parameters

A layer file's own fields belong to its kind (benefits/kinds/<kind>.py); this module has what is
shared: pack.yaml, parameter files, the rows, caps and group modifiers layer kinds are made of.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

from ..dates import Count, Day
from ..errors import described, mapping_of, shown
from ..models.accumulators import MAX_NAME
from ..models.filled import Filled

NAME_PATTERN = described(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", "a name of lower-case words joined by '.' or '_'")
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=MAX_NAME)]
"""A parameter, counter or layer name: lower-case words joined by dots or underscores (a layer's
is also its file name, so it is bounded)."""
Condition = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
REF_PATTERN = described(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\[[a-z0-9_]+\])*$",
                        "a parameter's name, then a [field] for each field of its breakdown")
Ref = Annotated[str, StringConstraints(pattern=REF_PATTERN, max_length=200)]
"""A parameter named where a value is read: a name, or a parameter with a breakdown and one
`[...]` for each of its fields, each a field of the claim (`inpatient.ratio[scheme][level]`, read
with the claim's scheme and level) or one of the field's values (`inpatient.ratio[employee][level]`)."""
BREAKDOWN_FIELDS = ("scheme", "member_type", "level", "visit", "region", "disease", "service")


class _File(Filled):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Text(_File):
    """Words for readers of each language, `{zh: 中文, en: English}`: a layer's or a group's name, a
    counter's or a parameter's description. Output in one language shows its half; what is written
    for readers of either (`rules show`, `rules diff`) shows both (render.both_languages)."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, data: object) -> object:
        # pydantic's own words ("a valid dictionary or instance of Text") name a class, not the file format
        if isinstance(data, (dict, Text)):
            return data
        got = f"the text {shown(data)}" if isinstance(data, str) else shown(data)
        raise ValueError(f"expected a mapping {{zh: 中文, en: English}}, got {got}")


# --- parameters/*.yaml ------------------------------------------------------------------


def _not_a_truth_value(value: object) -> object:
    # YAML's true/false would read as 1 and 0 (bool is an int): a yuan or points value is a number
    if isinstance(value, bool):
        raise ValueError(f"expected a number such as 1000.00 or -10, or a percent such as 65%, got {str(value).lower()}")
    return value


SOURCE_KINDS = ("seed ", "notice ", "assumed:")
"""How a value's source begins: a seed document, a published notice, or an assumption awaiting one."""
SOURCE_KIND_MISSING = "a source starts with 'seed NNN:', 'notice <number>:' or 'assumed:'"


def _source_of_a_kind(text: str) -> str:
    if not text.startswith(SOURCE_KINDS):
        raise ValueError(SOURCE_KIND_MISSING)
    return text


@mapping_of("a dated value's keys")
class DatedValue(_File):
    value: Annotated[Union[int, Decimal, str], BeforeValidator(_not_a_truth_value)]  # checked against the unit by the loader
    source: str = Field(
        min_length=1,
        description="`seed NNN: ...`, `notice <number>: ...` or `assumed: <why>`",
    )


@mapping_of("a parameter's keys")
class ParameterFile(_File):
    description: Text
    unit: Literal["yuan", "percent", "points"]
    values: dict[Day, DatedValue] = Field(min_length=1)


class BreakdownFile(_File):
    """A parameter broken down by fields of the claim (PolicyEngine's `breakdown:`): its `values`
    nest one level per field, keyed by the field's values, down to dated values; every
    combination must be given. It is read as one parameter per combination, named
    `name[value][value]`."""

    description: Text
    unit: Literal["yuan", "percent", "points"]
    breakdown: list[Literal[BREAKDOWN_FIELDS]] = Field(min_length=1, max_length=3)
    values: dict[str, object] = Field(min_length=1)

    @field_validator("breakdown")
    @classmethod
    def _each_field_once(cls, fields: list[str]) -> list[str]:
        twice = next((f for i, f in enumerate(fields) if f in fields[:i]), None)
        if twice is not None:  # its values would be asked for at two levels of `values`
            raise ValueError(f"field {twice!r} is listed twice; list each field once")
        return fields


# --- pack.yaml --------------------------------------------------------------------------


class Counter(_File):
    name: Name
    description: Text


class Refusal(_File):
    """A claim the pack does not settle, with the reason given to the person who sent it."""

    when: Condition
    message: str = Field(min_length=1)
    citation: str = Field(min_length=1)


def _not_none(name: str) -> str:
    # conditions read `disease == none` as a claim in no disease list, `service == none` as one that names no
    # service (facts.build_fact): a list named `none` would be both
    if name == "none":
        raise ValueError("'none' is what conditions read for a claim in no disease list, or naming no service; "
                         "give it another name")
    return name


ListName = Annotated[Name, AfterValidator(_not_none)]
"""A disease list's or a service's name: a Name, but not `none`."""


@mapping_of("pack.yaml's keys")
class PackFile(_File):
    pack: Name
    title: str
    jurisdiction: str
    deciding_date: Literal["settlement", "admission"] = Field(
        description="settlement: discharge date for a stay, visit date otherwise"
    )
    versions: list[Day] = Field(min_length=1, description="start dates of parameter versions")
    valid_until: Day
    levels: list[Name] = Field(min_length=1)
    visits: list[Literal["inpatient", "day_surgery", "general_outpatient", "special_outpatient", "maternity",
                         "covid_test"]] = Field(min_length=1)
    diseases: dict[ListName, list[str]] = Field(default_factory=dict, description="ICD-10 ranges per disease name")
    services: list[ListName] = Field(default_factory=list, description="fixed-amount services a claim may name")
    refusals: list[Refusal] = Field(default_factory=list, description="claims the pack refuses, and why")
    default_b_share: Name = Field(description="parameter: default pre-self-pay share of category-B items")
    counters: list[Counter]
    layers: list[Name] = Field(min_length=1, description="layer ids in paying order: layers/<id>.yaml")


# --- layers/<id>.yaml -------------------------------------------------------------------


class Row(_File):
    """One row of a decision table: the first row whose `when` holds gives the value."""

    when: Condition | None = None
    value: Ref


class Adjustment(_File):
    """Every adjustment whose `when` holds adds its points to the ratio."""

    when: Condition
    points: Name


class Cap(_File):
    """A maximum payment (最高支付限额); every cap whose `when` holds limits the layer."""

    id: Name
    when: Condition | None = None
    value: Name
    counter: Name | None = Field(None, description="what has been paid against it; none for a per-claim cap")
    period: Literal["year", "month", "claim"] = "year"


class RepeatAdmissions(_File):
    from_admission: Count = Field(ge=2, description="the admission number (this year) from which `factor` applies")
    factor: Name


class Deductible(_File):
    """起付线: per admission, per year (consumed by a counter), per claim, or none."""

    per: Literal["admission", "year", "claim", "none"]
    amount: list[Row] = Field(default_factory=list)
    repeat_admissions: RepeatAdmissions | None = None
    counter: Name | None = Field(None, description="per year: the counter of deductible already used")


class Band(_File):
    start: Name | None = Field(None, description="parameter; absent for the first band, which starts at the deductible")
    ratio: Name


class BandRow(_File):
    when: Condition | None = None
    bands: list[Band] = Field(min_length=1)


def decision_tables(node: object, path: tuple = ()) -> Iterator[tuple[tuple, list]]:
    """Every decision table in a rule file's model: a list of `Row`s or `BandRow`s, where the first row
    that holds is chosen (so a row's place is part of what it says), with its path in the file."""
    if isinstance(node, list):
        if node and all(isinstance(r, (Row, BandRow)) for r in node):
            yield path, node
        return
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from decision_tables(getattr(node, name), path + (name,))


@mapping_of("a lifted cap's keys")
class LiftedCap(_File):
    """A group's cap lifted (不设最高支付限额), with the policy text that lifts it: the trace cites it
    where the cap would have applied, as it cites a parameter's value."""

    source: Annotated[str, AfterValidator(_source_of_a_kind)] = Field(
        min_length=1, description="`seed NNN: ...`, `notice <number>: ...` or `assumed: <why>`")


def _lift_sourced(value: object) -> object:
    # a policy value like any other: `true` alone would leave the trace citing nothing for it
    if value is False:
        return None
    if value is True:
        raise ValueError('a lifted cap names the policy text that lifts it: lift_cap: {source: "seed NNN: ..."} '
                         '(or leave the key out)')
    return value


class GroupModifier(_File):
    """A group's modification of a cumulative layer (serious illness: 倾斜政策)."""

    id: Name
    name: Text | None = Field(None, description="how the trace names the group, when its id is not one it knows")
    when: Condition
    deductible_reduction: Name | None = None
    points: Name | None = None
    lift_cap: Annotated[LiftedCap | None, BeforeValidator(_lift_sourced)] = Field(
        None, description="the layer's cap does not bind the group's members (false or left out: it does)")


class GroupRatio(_File):
    """A group served by medical aid, with its ratio and deductible."""

    id: Name
    name: Text | None = Field(None, description="how the trace names the group, when its id is not one it knows")
    when: Condition | None = Field(None, description="absent: every member the layer applies to")
    ratio: Ref
    deductible: Name | None = None


FundCode = Annotated[str, StringConstraints(pattern=described(r"^[0-9]{6}$", "a fund code of six digits, such as 390100"))]
"""A fund's `fund_pay_type` in the platform's setldetail (domain.md section 5: 310100, 390200, 610102, ...)."""
PlatformField = Literal["hifp_pay", "hifmi_pay", "hifob_pay", "cvlserv_pay", "maf_pay", "oth_pay", "acct_pay"]
"""The setlinfo fields a fund's payout is summed into (domain.md section 5's table): one misspelt would be a
field of its own, and the fund's column would read 0.00."""


class LayerBase(_File):
    """What every layer file has; each layer kind (benefits/kinds/) adds its own fields."""

    id: Name
    name: Text
    when: Condition = Field(description="the claims this layer applies to")
    fund_code: dict[Literal["employee", "resident"], FundCode] = Field(default_factory=dict)
    platform_field: dict[Literal["employee", "resident"], PlatformField] = Field(default_factory=dict)
    citation: str = Field(min_length=1, description="the policy text this layer encodes")
