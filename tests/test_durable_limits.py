"""durable-rules 2.0.28's size limits (matcher/durable.py): where the C core breaks, and that no pack
reaches it. The red team's packs (500 rows on one field, 14 and-ed `or` pairs, 255 identical rows)
hung the process, crashed it, or leaked a C ruleset per try; they now load in several rulesets and
answer as the reference does, or are refused, naming the rules, before durable-rules is called."""

from __future__ import annotations

import faulthandler
import gc
import json
import os
import random
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import benefits
from benefits.conditions import parse
from benefits.matcher import LimitError, make_matcher
from benefits.matcher import durable
from test_matcher import SPECS, random_fact

MINI = Path(__file__).resolve().parents[1] / "examples" / "rules" / "mini"


@pytest.fixture(autouse=True)
def no_hang():
    """Should a bound be wrong, durable-rules loops forever holding the GIL: end the run with the
    stacks printed rather than hang it (faulthandler's watchdog is a C thread)."""
    faulthandler.dump_traceback_later(300, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def rows(texts) -> dict:
    return {f"row{i}": parse(t, SPECS) for i, t in enumerate(texts)}


def pairs(k: int, start: int = 0) -> str:
    """`(age == a or date >= b) and ...`: k and-ed `or` pairs: k + 1 groups, 4k links."""
    return " and ".join(f"(age == {start + i} or date >= 2021-01-{i % 28 + 1:02d})" for i in range(k))


def facts(n: int = 300, ages=None, seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        fact = random_fact(rng)
        if ages is not None:
            fact["age"] = rng.choice(ages)
        out.append(fact)
    return out


def assert_agree(rules: dict, sample: list[dict]) -> None:
    """The durable matcher (with and without the memo) answers as the reference on every fact."""
    reference = make_matcher(rules, "reference", memo=False)
    plain = make_matcher(rules, "durable", memo=False)
    memo = make_matcher(rules, "durable")
    for fact in sample + sample:
        want = reference.fired(fact)
        assert plain.fired(fact) == want, fact
        assert memo.fired(fact) == want, fact


# --- 1. the measured limits still hold (the C_* constants): run on durable-rules itself ---------
# Each case is a fresh process under a timeout, since past a limit the C core crashes or hangs.

RAW = r"""
import json, sys
from durable import engine
from benefits.matcher.durable import _quiet_host
conditions, facts = json.loads(sys.argv[1])
host = _quiet_host(engine)
definition = {"__always__": {"all": [{"m": {"$gte": {"claim": 0}}}], "run": lambda c: None}}
fired = []
record = lambda c: fired.append(1)  # one argument: a durable-rules action (two make it asynchronous)
for i, condition in enumerate(conditions):
    definition[f"r{i}"] = {"all": [{"m": condition}], "run": record}
try:
    host.adopt("t", definition)
except Exception as exc:
    print("error", exc, flush=True)
    sys.exit(0)
for i, fact in enumerate(facts):
    fired.clear()
    try:
        host.assert_fact("t", dict(fact, sid=str(i)))
    except Exception as exc:  # deleting the state now would crash: measured
        print("error", exc, flush=True)
        sys.exit(0)
    host.delete_state("t", str(i))
    print("fired", len(fired), flush=True)
"""


def raw(conditions: list, facts: list, timeout: float) -> str:
    """'ok: <fired counts>', 'error: <message>', 'crash: <signal>' or 'hang'."""
    try:
        run = subprocess.run([sys.executable, "-c", RAW, json.dumps([conditions, facts])],
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hang"
    if run.returncode != 0:
        return f"crash: {run.returncode}"
    out = run.stdout.split("\n")
    errors = [line for line in out if line.startswith("error")]
    return f"error: {errors[0]}" if errors else "ok: " + " ".join(l.split()[1] for l in out if l)


def nested(junctions: int) -> dict:
    node = {"date": 1}
    for i in range(junctions):
        node = {"$and" if i % 2 else "$or": [{"age": i}, node]}
    return node


AGE = {"claim": 1, "age": 1000}
FAILED = ("error", "crash", "hang")  # which of them can depend on what lies past a table's end
C = durable
CANARIES = {
    # name: (conditions, facts, expected outcome (prefixes), timeout)
    "junctions-at": ([nested(C.C_JUNCTIONS_PER_RULE)], [AGE], "ok", 30),
    "junctions-past": ([nested(C.C_JUNCTIONS_PER_RULE + 1)], [AGE], "error: error Could not create ruleset, error code: 113", 30),
    "children-at": ([{"age": 1000 + i} for i in range(C.C_CHILDREN_PER_NODE - 1)], [AGE], "ok: 1", 30),
    # a full table: the claim walks it forever, pushing the matching node again and again
    "children-full": ([{"age": 1000 + i} for i in range(C.C_CHILDREN_PER_NODE)], [AGE], FAILED, 30),
    "children-past": ([{"age": 1000 + i} for i in range(C.C_CHILDREN_PER_NODE + 1)], [AGE], "hang", 3),
    "rules-per-node-at": ([{"age": 1000}] * C.C_RULES_PER_NODE, [AGE], f"ok: {C.C_RULES_PER_NODE}", 30),
    # past C_RULES_PER_NODE durable-rules reads beyond a table's end: what follows depends on the
    # memory there (a segfault, error 108, or, seen once in CI, a right answer), so no canary can
    # hold it; our bound (MAX_LINKS_PER_RULESET) stays far below it
    "pending-at": ([{"$gte": {"age": i}} for i in range(C.C_PENDING_PER_ASSERTION - 1)], [AGE],
                             f"ok: {C.C_PENDING_PER_ASSERTION - 1}", 30),
    "pending-past": ([{"$gte": {"age": i}} for i in range(C.C_PENDING_PER_ASSERTION)], [AGE],
                       "error: error Could not assert fact, error code: 303", 30),
    "joins-at": ([{"$or": [{"age": 5}, {"age": 6}]}] * C.C_JOINS_PER_NODE, [AGE], "ok: 0", 30),
    "joins-past": ([{"$or": [{"age": 5}, {"age": 6}]}] * (C.C_JOINS_PER_NODE + 1), [AGE],
                     "error: error Could not create ruleset, error code: 107", 30),
}


@pytest.mark.parametrize("name", list(CANARIES))
def test_durable_rules_breaks_where_measured(name):
    """The C_* constants of matcher/durable.py, one below/at and one past each: should durable-rules
    ever change, these say the measurements (and so our bounds) must be redone."""
    conditions, sample, expected, timeout = CANARIES[name]
    outcome = raw(conditions, sample, timeout)
    assert outcome.startswith(expected), outcome


def test_our_bounds_are_below_the_measured_limits():
    assert durable.MAX_JUNCTIONS_PER_RULE < durable.C_JUNCTIONS_PER_RULE
    # one ruleset's links bound its pending stack, children, rules and joins per node (durable._shape)
    assert durable.MAX_LINKS_PER_RULESET < min(durable.C_PENDING_PER_ASSERTION, durable.C_CHILDREN_PER_NODE,
                                               durable.C_RULES_PER_NODE, durable.C_JOINS_PER_NODE)
    assert durable.MAX_RULESETS < durable.C_RULESETS_PER_PROCESS


# --- 2. wide packs load and agree with the reference ------------------------------------------


@pytest.mark.parametrize("n", [491, 500, 510, 511, 512, 600, 1000])
def test_hundreds_of_rows_on_one_field_agree_with_the_reference(n):
    """Rows `age == 1000` ...: in one ruleset, 510 rows (and the catch-all) fill all but one slot
    of the C table below the root, 511 crashed the first claim and 512 hung the load (the red
    team's pack, with its other rules, at 491 and about 500). Now split across rulesets."""
    rules = rows(f"age == {1000 + i}" for i in range(n))
    chunks = durable.plan(rules)
    assert len(chunks) == -(-n // (durable.MAX_LINKS_PER_RULESET - 1))
    assert_agree(rules, facts(200, ages=[1000, 1000 + n - 1, 1000 + n // 2, 1000 + n, 5]))


def test_identical_rows_and_rows_that_all_match_agree_with_the_reference():
    """300 rows with one condition (256 behind one node crashed); 300 rows all true for one fact
    (64 pending crashed); the same with nested `or`s, which durable-rules walks once per branch."""
    rules = rows(["age == 1000"] * 300 + [f"age >= {i}" for i in range(300)]
                 + ["age >= 0 and (age >= 1 or date >= 2021-01-01) and (age >= 2 or filed)"] * 100)
    sample = facts(60, ages=[1000, 150, 0, 2])
    assert_agree(rules, sample)
    assert len(make_matcher(rules, "durable", memo=False).fired({**sample[0], "age": 1000})) == 700


def test_a_condition_at_the_bounds_loads_and_agrees():
    """The largest conditions one rule takes: 11 and-ed `or` pairs (12 groups, 44 links), and
    `scheme == employee and age in [23 values]` (47 links), each on 40 rows."""
    pair_rows = [pairs(11, start=i) for i in range(40)]
    wide_in = [f"scheme == employee and age in [{', '.join(str(i + j) for j in range(23))}]" for i in range(40)]
    shape = lambda text: durable._shape(durable.compile_condition(parse(text, SPECS)))  # noqa: E731
    assert shape(pair_rows[0]) == (durable.MAX_JUNCTIONS_PER_RULE, 44)
    assert shape(wide_in[0]) == (2, durable.MAX_LINKS_PER_RULESET - 1)
    assert_agree(rows(pair_rows + wide_in), facts(150, ages=list(range(0, 70))))


def test_a_top_level_or_of_any_length_is_split_into_rules():
    rules = rows(["age in [" + ", ".join(map(str, range(150))) + "] or groups has tekun",
                  "level in [level1, level2, level3] or (scheme == employee and " + pairs(11) + ")"])
    assert sum(len(c) for c in durable.plan(rules)) == 151 + 4
    assert_agree(rules, facts(300, ages=list(range(0, 151))))


def test_random_wide_packs_agree_with_the_reference():
    rng = random.Random(11)
    tests = ["scheme == resident", "level != level3", "age < 18", "age >= 60", "filed", "not filed",
             "groups has tekun", "not groups has dibao", "date >= 2021-07-01", "disease == hypertension",
             "level in [level1, level2]", "member_type == retired", "region != local"]

    def condition(depth: int) -> str:
        if depth == 0 or rng.random() < 0.4:
            return rng.choice(tests + [f"age == {rng.randrange(100)}", f"age > {rng.randrange(100)}"])
        joiner = rng.choice([" and ", " or "])
        return "(" + joiner.join(condition(depth - 1) for _ in range(rng.randrange(2, 4))) + ")"

    texts = []
    while len(texts) < 400:
        text = condition(3)
        try:
            durable.plan(rows([text]))
        except LimitError:
            continue
        texts.append(text)
    assert_agree(rows(texts), facts(150, ages=[0, 17, 18, 59, 60, 61, 99]))


# --- 3. what cannot be split is refused, naming the rules, before durable-rules is called ------


def refused(rules: dict) -> LimitError:
    live = len(durable._live)
    for kind in ("durable", "reference"):  # a pack is valid or not whichever matcher loads it
        with pytest.raises(LimitError) as caught:
            make_matcher(rules, kind)
    assert len(durable._live) == live  # nothing allocated
    return caught.value


def test_too_many_groups_in_one_condition_are_refused():
    at = nested_text(durable.MAX_JUNCTIONS_PER_RULE)
    assert durable._shape(durable.compile_condition(parse(at, SPECS)))[0] == durable.MAX_JUNCTIONS_PER_RULE
    make_matcher(rows([at]), "durable")
    err = refused({"ok": parse("age > 3", SPECS), "deep": parse(nested_text(durable.MAX_JUNCTIONS_PER_RULE + 1), SPECS)})
    assert err.rule_ids == ("deep",)
    assert f"at most {durable.MAX_JUNCTIONS_PER_RULE}" in err.message and "split the condition" in err.message
    assert isinstance(err, benefits.BenefitsError)


def test_a_pack_needing_more_rulesets_than_its_bound_is_refused_naming_its_largest_rules():
    """1,000 rows of 140 alternatives made 3,000 rulesets: 6 s and 1.3 GB to load, and every new kind of
    claim asked all of them. At the bound a pack loads; one comparison more is refused by both matchers,
    before anything is allocated, naming its largest conditions (where an author looks first)."""
    per_ruleset = durable.MAX_LINKS_PER_RULESET - 1  # the catch-all takes one link of each
    wide = "age == 500 or " + " or ".join(f"age == {600 + i}" for i in range(30))  # 31 alternatives, 31 links
    at_bound = rows([wide] + [f"age == {10000 + i}" for i in range(durable.MAX_RULESETS_PER_PACK * per_ruleset - 31)])
    assert len(durable.plan(at_bound)) == durable.MAX_RULESETS_PER_PACK
    matcher = make_matcher(at_bound, "durable")
    assert matcher.fired({**facts(1)[0], "age": 615}) == {"row0"}
    del matcher
    gc.collect()  # its 100 rulesets are freed here, not in a later test
    over = rows([f"age == {i}" for i in range(40)] + [wide] + [f"age == {1000 + i}" for i in range(4700 - 71 + 1)])
    err = refused(over)
    assert err.rule_ids[0] == "row40" and len(err.rule_ids) == 5
    assert f"4,671 conditions of 4,701 comparisons and alternatives (at most 31 in one) make " \
           f"{durable.MAX_RULESETS_PER_PACK + 1} rulesets" in err.message
    assert f"at most {durable.MAX_RULESETS_PER_PACK}" in err.message


def nested_text(junctions: int) -> str:
    """(age == 0 and (age == 1 or (... date >= 2021-01-01))): `junctions` groups, few links; the
    outermost is an `and` (a top-level `or` would be split into rules)."""
    text = "date >= 2021-01-01"
    for i in range(junctions):
        text = f"(age == {i} {'or' if (junctions - i) % 2 == 0 else 'and'} {text})"
    return text


def test_fourteen_and_ed_or_pairs_and_long_lists_under_an_and_are_refused_naming_every_rule():
    """The red team's and-ed `or` pairs (durable-rules 2.0.28 holds 14, 15 fail: 2 of its 32 expression
    slots per group; we take 11, i.e. 12 groups); a 24-value list under an `and` (49 links)."""
    rules = {"a": parse(pairs(14), SPECS), "fine": parse(pairs(3), SPECS),
             "b": parse("scheme == employee and age in [" + ", ".join(map(str, range(24))) + "]", SPECS),
             "c": parse(pairs(12) + " or age == 3", SPECS)}  # the `or` is split; one alternative is too big
    err = refused(rules)
    assert err.rule_ids == ("a", "b", "c")
    assert "groups" in err.message and "comparisons" in err.message and "split the condition into several rows" in err.message
    assert str(err).startswith("a, b, c: ")
    assert "groups" in err.reasons["a"] and "groups" in err.reasons["c"] and "comparisons" in err.reasons["b"]


def test_too_many_rulesets_in_one_process_are_refused(monkeypatch):
    gc.collect()  # matchers earlier tests dropped free their rulesets now, not while this one counts
    monkeypatch.setattr(durable, "MAX_RULESETS", len(durable._live) + 2)
    err = refused_durable(rows(f"age == {i}" for i in range(200)))
    assert err.rule_ids == () and "drop packs no longer used" in err.message


def refused_durable(rules: dict) -> LimitError:
    with pytest.raises(LimitError) as caught:
        make_matcher(rules, "durable")
    return caught.value


# --- 4. a failed load frees what it allocated --------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")


@needs_proc
def test_a_refused_pack_loaded_300_times_keeps_no_memory():
    """Each failed load used to leak its C ruleset (0.22 MB and one of 131,072 handles)."""
    rules = rows([f"age == {i}" for i in range(300)] + [pairs(14)])
    refused_durable(rules)
    gc.collect()
    before, live = rss_mb(), len(durable._live)
    for _ in range(300):
        refused_durable(rules)
    gc.collect()
    assert len(durable._live) == live
    assert rss_mb() - before < 5  # 300 x 0.22 MB = 66 MB when leaked


@needs_proc
def test_a_load_failing_after_some_rulesets_were_made_deletes_them(monkeypatch):
    """Whatever fails after the first C ruleset exists, every ruleset made is deleted (200 tries)."""
    import durable_rules_engine

    real, made = durable_rules_engine.create_ruleset, []

    def create_then_fail(name, text):
        if len(made) % 5 == 4:  # the fifth ruleset of each load fails
            made.append(None)
            raise RuntimeError("injected")
        made.append(real(name, text))
        return made[-1]

    monkeypatch.setattr(durable_rules_engine, "create_ruleset", create_then_fail)
    rules = rows(f"age == {i}" for i in range(600))  # 13 rulesets
    gc.collect()
    before, live = rss_mb(), len(durable._live)
    for _ in range(200):
        with pytest.raises(RuntimeError, match="injected"):
            make_matcher(rules, "durable", memo=False)
    assert len(durable._live) == live
    for handle in [h for h in made if h is not None][-4:]:  # freed in C: the handle is invalid now
        with pytest.raises(durable_rules_engine.error, match="error code: 111"):
            durable_rules_engine.delete_state(handle, "0")
    gc.collect()
    assert rss_mb() - before < 5  # 200 x 4 rulesets x 0.15 MB = 120 MB when leaked


def test_a_ruleset_the_c_core_refuses_is_a_limit_error_and_frees_the_others(monkeypatch):
    """Should a bound of ours be wrong, durable-rules' own error names the rules and nothing else is
    kept (the refused ruleset's handle is lost inside create_ruleset: one try, one leak)."""
    monkeypatch.setattr(durable, "MAX_JUNCTIONS_PER_RULE", 30)
    monkeypatch.setattr(durable, "MAX_LINKS_PER_RULESET", 60)
    live = len(durable._live)
    rules = rows([f"age == {i}" for i in range(200)] + [nested_text(durable.C_JUNCTIONS_PER_RULE + 1)])
    err = refused_durable(rules)
    assert "row200" in err.rule_ids and "row0" not in err.rule_ids and "error code: 113" in err.message
    assert len(durable._live) == live


# --- 5. through load_rules: wide layers of a real pack -----------------------------------------


def mini_with_ratio_rows(tmp_path: Path, whens: list[str]) -> Path:
    root = tmp_path / "mini"
    shutil.copytree(MINI, root)
    layer = root / "layers" / "outpatient.yaml"
    text = layer.read_text(encoding="utf-8")
    old = "ratio:\n  - {when: level == clinic, value: outpatient.ratio.clinic}\n"
    assert old in text
    new = "ratio:\n" + "".join(f"  - {{when: {w}, value: outpatient.ratio.clinic}}\n" for w in whens)
    layer.write_text(text.replace(old, new), encoding="utf-8")
    return root


def visit(age: int, level: str = "hospital") -> dict:
    return {"id": "v", "member": {"id": "m", "scheme": "employee", "age": age}, "visit": "general_outpatient",
            "level": level, "date": "2022-03-05",
            "bill": {"total": "300.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
                     "policy_range": "300.00"}}


def test_a_pack_with_600_rows_on_one_field_loads_and_settles_as_the_reference(tmp_path):
    """600 ratio rows `age == N` (about 500 hung the load; 491 crashed the first claim)."""
    root = mini_with_ratio_rows(tmp_path, [f"age == {150 - i}" for i in range(600)])
    durable_pack = benefits.load_rules(root)
    reference = benefits.load_rules(root, matcher="reference")
    for age in (0, 1, 75, 149, 150):
        a, b = benefits.evaluate(visit(age), durable_pack), benefits.evaluate(visit(age), reference)
        assert a == b and a.payouts == {"outpatient": Decimal("60.00")}  # clinic ratio 50%, visit cap 60.00


def test_load_rules_refuses_a_too_big_condition_with_its_file_and_line(tmp_path):
    """Needs the loader to turn LimitError into a problem at the rule's file and line."""
    root = mini_with_ratio_rows(tmp_path, ["age == 3", pairs(14), "age == 4"])
    with pytest.raises(benefits.RuleFileError) as caught:
        benefits.load_rules(root)
    (problem,) = caught.value.problems
    assert problem.file.replace("\\", "/").endswith("layers/outpatient.yaml")
    lines = (root / "layers" / "outpatient.yaml").read_text(encoding="utf-8").splitlines()
    assert pairs(14) in lines[problem.line - 1]
    assert "split the condition into several rows" in problem.message


def test_no_conditions_make_no_ruleset():
    live = len(durable._live)
    matcher = make_matcher({}, "durable")
    assert len(durable._live) == live and matcher.fired(facts(1)[0]) == frozenset()
