"""The `when:` language: parsing, negation-normal form, errors that say where."""

import pytest

from benefits.conditions import And, Cmp, Has, Or, holds, parse
from benefits.errors import ConditionSyntaxError
from benefits.facts import field_specs

SPECS = field_specs(("level1", "level2", "level3"), ("hypertension",))


def p(text):
    return parse(text, SPECS)


def test_precedence_and_binds_tighter_than_or():
    assert p("scheme == resident or scheme == employee and level == level1") == Or((
        Cmp("scheme", "==", "resident"),
        And((Cmp("scheme", "==", "employee"), Cmp("level", "==", "level1"))),
    ))


def test_not_is_pushed_into_the_comparisons():
    assert p("not (level in [level1, level2] or groups has tekun)") == And((
        And((Cmp("level", "!=", "level1"), Cmp("level", "!=", "level2"))),
        Has("groups", "tekun", negated=True),
    ))
    assert p("not age >= 60") == Cmp("age", "<", 60)
    assert p("not filed") == Cmp("filed", "!=", True)


def test_dates_become_integers_and_quoted_values_work():
    assert p("date >= 2021-07-01") == Cmp("date", ">=", 20210701)
    assert p("scheme == 'employee'") == Cmp("scheme", "==", "employee")


@pytest.mark.parametrize("text, fragment", [
    ("levle == level1", "unknown field 'levle'"),
    ("level == level4", "'level4' is not a value of 'level'"),
    ("scheme > resident", "not ordered"),
    ("groups == tekun", "expected `has`"),
    ("age >= sixty", "whole number"),
    ("date >= 2021-13-01", "'2021-13-01' is not a date of the calendar"),
    # found by a red team: read by fromisoformat() as 2021-07-01 and as the Monday of week 27 (2021-07-05)
    ("date >= 20210701", "'date' compares with a date: expected a date written YYYY-MM-DD, got '20210701'"),
    ("date >= '2021W27'", "'date' compares with a date: expected a date written YYYY-MM-DD, got '2021W27'"),
    ("(scheme == resident", "expected `)`"),
    ("scheme == resident and", "expected a field name"),
    ("scheme == resident level == level1", "`and`, `or` or the end"),
    ("scheme ~= resident", "unexpected character"),
    ("level in [level1 level2]", "expected `]`"),
    ("", "non-empty"),
    ("(" * 30 + "filed" + ")" * 30, "nest at most 20 deep"),
    ("not " * 30 + "filed", "nest at most 20 deep"),
])
def test_errors_name_the_problem(text, fragment):
    with pytest.raises(ConditionSyntaxError) as exc:
        p(text)
    assert fragment in str(exc.value)


def test_reference_semantics():
    fact = {"scheme": "resident", "level": "level2", "age": 61, "filed": False,
            "groups__tekun": True, "groups__dibao": False, "date": 20210701}
    assert holds(p("scheme == resident and level in [level1, level2]"), fact)
    assert holds(p("groups has tekun and not groups has dibao"), fact)
    assert holds(p("age >= 60 and age < 62 and date >= 2021-07-01"), fact)
    assert not holds(p("filed or date > 2021-07-01"), fact)
    assert holds(p("not filed"), fact)
    # a missing field never satisfies a comparison, negated or not (as in durable-rules)
    assert not holds(p("disease == hypertension"), fact)
    assert not holds(p("disease != hypertension"), fact)
