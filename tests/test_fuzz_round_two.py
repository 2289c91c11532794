"""The fuzzer, round two (the second red-team pass): shapes that once changed a number silently,
hung or crashed the process, or read outside a pack.

- a written amount respelled (zero-padded, base 60, hex, octal, underscores, exponent, other
  scripts' digits, negative zero) settles exactly as its plain decimal or is refused;
- booleans, timestamps and date-times in number and date fields are refused, never converted;
- wide condition tables (hundreds of rows on one field, and-ed pairs of `or`) load under the
  production matcher agreeing with the reference matcher, or are refused with file and line;
- links and FIFOs in a pack are refused at once, and nothing from outside the pack is quoted.
"""

from __future__ import annotations

import os
import shutil
import signal
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from generators import PACKS, check_conservation, claim_and_accumulators, examples, pack
from hypothesis import given, settings
from hypothesis import strategies as st

import benefits
from benefits import ClaimError, RuleFileError
from benefits.yamlio import YamlError, load_text


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging: a blocked open() or a C loop holding the GIL would stop the suite."""
    def expired(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --- respelled amounts --------------------------------------------------------------------------

def _plain(amount: Decimal) -> str:
    return f"{amount:.2f}"


SAME = [lambda s: "0" + s, lambda s: "000" + s, lambda s: "+" + s, lambda s: s.rstrip("0").rstrip(".") if "." in s else s]
REFUSED = [
    lambda s: s.replace(".", ":", 1) if "." in s else "1:" + s,
    lambda s: hex(int(Decimal(s))),
    lambda s: "0o" + oct(int(Decimal(s)))[2:],
    lambda s: s[:1] + "_" + s[1:] if len(s) > 1 else "1_0",
    lambda s: f"{Decimal(s):E}",
    lambda s: s.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    lambda s: s.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
    lambda s: "true",
    lambda s: "yes",
]


def _amount_paths(value, at=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _amount_paths(v, at + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _amount_paths(v, at + (i,))
    elif isinstance(value, Decimal) and at and at[-1] in {"total", "fully_self_paid", "over_limit", "pre_self_paid",
                                                           "policy_range", "unit_price", "payment_standard"}:
        yield at


def _yaml(claim: dict, path: tuple, text: str) -> str:
    """The claim as YAML with the value at `path` written as `text`, unquoted."""
    import yaml

    marker = "@@AMOUNT@@"
    data = __import__("copy").deepcopy(claim)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = marker
    dumped = yaml.safe_dump(_plainly(data), allow_unicode=True, sort_keys=False)
    return dumped.replace(f"'{marker}'", text).replace(marker, text)


def _plainly(value):
    if isinstance(value, dict):
        return {k: _plainly(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plainly(v) for v in value]
    if isinstance(value, Decimal):
        return _plain(value)
    return value


@pytest.mark.parametrize("name", list(PACKS))
def test_a_respelled_amount_settles_as_written_or_is_refused(name):
    p = pack(name)

    @settings(max_examples=examples(1))
    @given(data=st.data())
    def run(data):
        claim, acc = claim_and_accumulators(data, p)
        paths = list(_amount_paths(claim))
        if not paths:
            return
        path = data.draw(st.sampled_from(paths), label="amount")
        node = claim
        for key in path:
            node = node[key]
        plain = _plain(node)
        try:
            expected = benefits.evaluate(load_text(_yaml(claim, path, plain), "c.yaml")[0], p, acc)
        except ClaimError:
            return  # the generated claim is refused as it is (a pack's refusal): nothing to compare
        same = data.draw(st.booleans(), label="same value")
        spelling = data.draw(st.sampled_from(SAME if same else REFUSED), label="spelling")(plain)
        text = _yaml(claim, path, spelling)
        try:
            got = benefits.evaluate(load_text(text, "c.yaml")[0], p, acc)
        except (ClaimError, YamlError) as exc:
            assert not same or "must" in str(exc) or "add up" in str(exc), (spelling, str(exc))
            return
        assert same, f"{spelling!r} for {plain} settled instead of being refused"
        check_conservation(got)
        assert got == expected.model_copy(update={})  # the same settlement, to the fen

    run()


# --- booleans, timestamps and date-times where numbers and dates belong ----------------------------

NOT_A_DATE = [True, 1627776000, "2021-07-01T00:00:00+14:00", "2021-07-01 00:00:00", "２０２１-０７-０１", "20210701"]
NOT_A_NUMBER = [True, False, "yes", "on", "2021-07-01T00:00:00+14:00", "１", "0x1", "1:1", "1e3"]


def test_wrong_kinds_in_number_and_date_fields_are_refused_never_converted():
    p = pack("jiangmen")
    fields = [("claim", "discharge_date"), ("claim", "admission_date"), ("claim", "member", "age"),
              ("claim", "filed"), ("accumulators", "admissions"), ("accumulators", "year"),
              ("claim", "bill", "total"), ("accumulators", "counters", "basic.annual")]

    @settings(max_examples=examples(1))
    @given(data=st.data(), field=st.sampled_from(fields))
    def run(data, field):
        value = data.draw(st.sampled_from(NOT_A_DATE if field[-1].endswith("date") else NOT_A_NUMBER), label="value")
        from conftest import claim

        doc = {"claim": claim(), "accumulators": {"year": 2021, "admissions": 0, "counters": {}}}
        if field[-1] == "filed" and not isinstance(value, bool):
            doc["claim"]["region"] = "out_of_province"
        if field[-1] == "filed" and isinstance(value, bool):
            return  # a boolean is what `filed` is
        node = doc
        for key in field[:-1]:
            node = node[key]
        node[field[-1]] = value
        with pytest.raises(ClaimError):
            benefits.evaluate(doc["claim"], p, doc["accumulators"])

    run()


# --- wide condition tables --------------------------------------------------------------------------

@st.composite
def wide_rows(draw) -> list[str]:
    kind = draw(st.sampled_from(["one field", "and of ors", "same condition"]))
    if kind == "one field":
        n = draw(st.sampled_from([1, 50, 255, 256, 300, 490, 491, 500, 700]))
        return [f"age == {1000 + i}" for i in range(n)] + ["age == 10"]  # the probe's row comes last
    if kind == "and of ors":
        pairs = draw(st.integers(1, 20))
        return [" and ".join(f"(age == {i} or age == {i + 100})" for i in range(pairs))]
    n = draw(st.sampled_from([2, 255, 256, 300]))
    return ["level == clinic"] * n


def test_wide_condition_tables_load_agreeing_with_the_reference_or_are_refused(tmp_path):
    root = tmp_path / "mini"
    shutil.copytree(PACKS["mini"], root)
    path = root / "layers" / "outpatient.yaml"
    original = path.read_text(encoding="utf-8")
    probe = {"id": "p", "member": {"id": "m", "scheme": "employee", "age": 10}, "visit": "general_outpatient",
             "level": "clinic", "date": "2022-03-05",
             "bill": {"total": "300.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
                      "policy_range": "300.00"}}

    @settings(max_examples=examples(0.3))
    @given(rows=wide_rows())
    def run(rows):
        table = "".join(f"  - {{when: \"{w}\", value: outpatient.ratio.hospital}}\n" for w in rows)
        path.write_text(original.replace("ratio:\n", "ratio:\n" + table, 1), encoding="utf-8")
        try:
            with deadline(60):
                try:
                    durable = benefits.load_rules(root, matcher="durable")
                except RuleFileError as exc:
                    assert all(p.file == "mini/layers/outpatient.yaml" and p.line for p in exc.problems), exc.problems
                    return
                reference = benefits.load_rules(root, matcher="reference")
                a, b = benefits.evaluate(probe, durable), benefits.evaluate(probe, reference)
                assert a == b
                check_conservation(a)
        finally:
            path.write_text(original, encoding="utf-8")

    run()


# --- links and FIFOs in a pack ----------------------------------------------------------------------

SECRET = "SECRET_TOKEN: zz-top-secret-zz\n"


def test_links_and_fifos_in_a_pack_are_refused_at_once(tmp_path):
    base = tmp_path / "base"
    shutil.copytree(PACKS["mini"], base)
    (tmp_path / "secret.yaml").write_text(SECRET, encoding="utf-8")
    files = sorted(str(p.relative_to(base)) for p in base.rglob("*.yaml"))
    counter = iter(range(10**6))

    @settings(max_examples=examples(0.3))
    @given(rel=st.sampled_from(files), what=st.sampled_from(
        ["outside", "system", "stdin", "dangling", "loop", "fifo", "inside"]))
    def run(rel, what):
        root = tmp_path / f"try{next(counter)}" / "mini"
        shutil.copytree(base, root)
        target = root / rel
        target.unlink()
        if what == "fifo":
            os.mkfifo(target)
        elif what == "loop":
            target.symlink_to(target)
        else:
            dest = {"outside": tmp_path / "secret.yaml", "system": Path("/etc/hostname"), "stdin": Path("/dev/stdin"),
                    "dangling": root / "nowhere.yaml", "inside": root / "copy.yaml"}[what]
            if what == "inside":
                shutil.copy(base / rel, dest)
            target.symlink_to(dest)
        with deadline(30):
            try:
                benefits.load_rules(root, matcher="reference")
            except RuleFileError as exc:
                assert what != "inside", exc.problems
                text = str(exc)
                assert "zz-top-secret-zz" not in text and "SECRET_TOKEN" not in text
                assert any(p.file == f"mini/{rel}" for p in exc.problems), exc.problems
                return
        assert what == "inside", f"{what} link at {rel} loaded"

    run()
