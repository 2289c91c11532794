"""The bounded memo that validation and the calculator keep repeated work in (benefits.memo):
it must never change an answer, and never grow past its limit."""

import pytest

import benefits
from benefits.memo import Memo, keep


def test_a_value_is_worked_out_once_per_key():
    calls = []
    memo = Memo(lambda k: calls.append(k) or k * 2, limit=10)
    assert [memo[3], memo[3], memo[4]] == [6, 6, 8]
    assert calls == [3, 4]


def test_a_full_memo_starts_over_and_stays_within_its_limit():
    memo = Memo(lambda k: -k, limit=3)
    plain: dict = {}
    for k in range(10):
        assert memo[k] == -k and keep(plain, k, -k, 3) == -k
        assert len(memo) <= 3 and len(plain) <= 3
    assert list(memo) == list(plain) == [9]  # 9 arrived at 3 entries: cleared, then kept


def test_an_input_refused_is_not_kept_and_is_refused_again():
    calls = []

    def read(text):
        calls.append(text)
        if not text.isdigit():
            raise ValueError(text)
        return int(text)

    memo = Memo(read)
    for _ in range(2):
        with pytest.raises(ValueError):
            memo["x1"]
    assert calls == ["x1", "x1"] and "x1" not in memo


def _stay(diagnoses, discharge="2022-05-24"):
    return {"id": "c1", "member": {"id": "m1", "scheme": "resident", "member_type": "adult"}, "visit": "inpatient",
            "level": "level1", "admission_date": "2022-05-18", "discharge_date": discharge, "diagnoses": diagnoses,
            "bill": {"total": "100.00", "fully_self_paid": "0.00", "over_limit": "0.00", "pre_self_paid": "0.00",
                     "policy_range": "100.00"}}


def test_codes_and_days_read_before_do_not_let_a_bad_one_through():
    benefits.Claim.model_validate(_stay(["J18.9"]))  # now read and remembered
    with pytest.raises(Exception, match="is not an ICD-10 code"):
        benefits.Claim.model_validate(_stay(["J18.9", "J1"]))
    with pytest.raises(Exception, match="not a date of the calendar"):
        benefits.Claim.model_validate(_stay(["J18.9"], discharge="2022-02-30"))
    with pytest.raises(Exception, match="not a date of the calendar"):
        benefits.Claim.model_validate(_stay(["J18.9"], discharge="2022-02-30"))  # refused again, not remembered


class _Sly(str):
    """Text that claims to equal a day read before: a memo keyed on text must not trust it."""

    def __eq__(self, other):
        return True

    def __hash__(self):
        return hash("2022-05-24")


def test_text_of_another_type_is_read_not_looked_up():
    benefits.Claim.model_validate(_stay(["J18.9"]))  # 2022-05-24 read and remembered
    with pytest.raises(Exception, match="expected a date written YYYY-MM-DD"):
        benefits.Claim.model_validate(_stay(["J18.9"], discharge=_Sly("soon")))
