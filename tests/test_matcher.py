"""The durable-rules matcher against the plain-Python reference, over the same condition trees."""

import gc
import os
import random
import threading

import pytest

import benefits
from benefits.conditions import parse
from benefits.facts import Group, build_fact, date_key, field_specs, group_key
from benefits.matcher import make_matcher
from benefits.matcher.durable import compile_condition
from conftest import RULES

SPECS = field_specs(("level1", "level2", "level3"), ("hypertension", "diabetes"))

# One rule per operator and shape, so a rule that silently never fires is caught.
CONDITIONS = {
    "eq": "scheme == resident",
    "neq": "level != level3",
    "in": "level in [level1, level2]",
    "not_in": "not level in [level1, level2]",
    "lt": "age < 18",
    "lte": "age <= 18",
    "gt": "age > 60",
    "gte": "age >= 60",
    "bool": "filed",
    "not_bool": "not filed",
    "has": "groups has tekun",
    "not_has": "not groups has dibao",
    "and": "scheme == employee and member_type == retired",
    "or": "groups has tekun or groups has guer",
    "nested": "(scheme == resident and (level == level1 or not filed)) or (age >= 65 and groups has dibao)",
    "date_before": "date < 2021-07-01",
    "date_from": "date >= 2021-07-01",
    "disease": "disease == hypertension",
    "not_disease": "disease != none",
    "de_morgan": "not (scheme == resident or region == local)",
}


def random_fact(rng: random.Random) -> dict:
    fact = {
        "claim": 1,
        "scheme": rng.choice(["resident", "employee"]),
        "member_type": rng.choice(["in_service", "retired", "adult", "child", "unknown"]),
        "visit": rng.choice(["inpatient", "general_outpatient"]),
        "level": rng.choice(["level1", "level2", "level3"]),
        "region": rng.choice(["local", "in_province", "out_of_province"]),
        "filed": rng.random() < 0.5,
        "age": rng.choice([0, 17, 18, 19, 59, 60, 61, 64, 65, 90]),
        "disease": rng.choice(["hypertension", "diabetes", "none"]),
        "date": rng.choice([date_key(__import__("datetime").date(2021, m, d)) for m, d in [(1, 1), (6, 30), (7, 1), (12, 31)]]),
    }
    for g in Group:
        fact[group_key("groups", g.value)] = rng.random() < 0.3
    return fact


@pytest.fixture(scope="module")
def trees():
    return {rid: parse(text, SPECS) for rid, text in CONDITIONS.items()}


def test_durable_agrees_with_reference_and_every_rule_both_fires_and_not(trees):
    durable = make_matcher(trees, "durable", memo=False)
    reference = make_matcher(trees, "reference", memo=False)
    rng = random.Random(20211)
    seen_fired, seen_not = set(), set()
    for _ in range(1500):
        fact = random_fact(rng)
        want = reference.fired(fact)
        assert durable.fired(fact) == want, fact
        seen_fired |= want
        seen_not |= set(trees) - want
    assert seen_fired == set(trees), f"never fired: {set(trees) - seen_fired}"
    assert seen_not == set(trees), f"always fired: {set(trees) - seen_not}"


def test_the_memo_gives_the_uncached_answers_and_stays_bounded(trees):
    from benefits.matcher.memo import MemoMatcher

    plain = make_matcher(trees, "durable", memo=False)
    memo = MemoMatcher(make_matcher(trees, "durable", memo=False), trees, maxsize=64)
    assert "date" in memo._keys and "groups__tekun" in memo._keys and "claim" not in memo._keys
    rng = random.Random(7)
    facts = [random_fact(rng) for _ in range(400)]
    for fact in facts + facts:  # the second round is answered from the memo where it still holds
        assert memo.fired(fact) == plain.fired(fact), fact
        assert len(memo) <= 64


def test_the_memo_keys_dates_and_ages_by_their_place_among_the_thresholds(trees):
    """Every day of a year and every age from 0 to 120, for one member otherwise: the answers are the
    uncached ones, and the memo holds one entry per interval between the thresholds the conditions
    name (and one per threshold itself), not one per day or age."""
    import datetime as dt

    from benefits.matcher.memo import MemoMatcher

    plain = make_matcher(trees, "durable", memo=False)
    memo = MemoMatcher(make_matcher(trees, "durable", memo=False), trees)
    fact = random_fact(random.Random(3))
    start = dt.date(2021, 1, 1)
    for day in (start + dt.timedelta(days=n) for n in range(365)):
        fact["date"] = date_key(day)
        assert memo.fired(fact) == plain.fired(fact), fact
    # one date named (2021-07-01): before it, on it, after it
    assert len(memo) == 3
    fact["date"] = date_key(start)
    for age in range(121):
        fact["age"] = age
        assert memo.fired(fact) == plain.fired(fact), fact
    # ages named: 18, 60, 65 -> 3 on a threshold, 4 intervals; the age the first loop used is among them
    assert len(memo) == 3 + 7 - 1
    del fact["age"]  # a member without an age: its own entry
    assert memo.fired(fact) == plain.fired(fact)
    assert len(memo) == 3 + 7


def test_a_fact_matching_no_rule_is_safe_and_empty(trees):
    matcher = make_matcher({"only": parse("age > 200", SPECS)}, "durable")
    fact = random_fact(random.Random(1))
    assert matcher.fired(fact) == frozenset()
    assert matcher.fired(fact) == frozenset()  # same fact again: no state kept between claims


def test_compiled_form_uses_only_safe_operators(trees):
    def ops(node):
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from ops(v)
        elif isinstance(node, list):
            for v in node:
                yield from ops(v)

    used = {o for t in trees.values() for o in ops(compile_condition(t)) if o.startswith("$")}
    assert used <= {"$and", "$or", "$neq", "$lt", "$lte", "$gt", "$gte"}


def test_two_matchers_in_one_process_do_not_interfere(trees):
    a = make_matcher({"x": parse("scheme == resident", SPECS)}, "durable")
    b = make_matcher({"x": parse("scheme == employee", SPECS)}, "durable")
    fact = random_fact(random.Random(2))
    fact["scheme"] = "resident"
    assert a.fired(fact) == {"x"} and b.fired(fact) == frozenset()


def test_threads_share_a_matcher_safely(trees):
    durable = make_matcher(trees, "durable", memo=False)
    reference = make_matcher(trees, "reference", memo=False)
    facts = [random_fact(random.Random(i)) for i in range(200)]
    errors = []

    def work(chunk):
        for f in chunk:
            if durable.fired(f) != reference.fired(f):
                errors.append(f)

    threads = [threading.Thread(target=work, args=(facts[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_packs_on_several_threads_at_once_agree_with_the_reference(trees):
    """One lock for every call into durable-rules, whichever pack: its C state is process-wide."""
    pairs = [(make_matcher(trees, "durable", memo=False), make_matcher(trees, "reference", memo=False))
             for _ in range(3)]
    facts = [random_fact(random.Random(i)) for i in range(150)]
    errors = []

    def work(durable, reference):
        for f in facts:
            if durable.fired(f) != reference.fired(f):
                errors.append(f)

    threads = [threading.Thread(target=work, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")
def test_a_dropped_pack_frees_its_durable_rules_state_and_starts_no_threads():
    """durable-rules' Host starts two timer threads per host and never frees its C ruleset; a pack
    loaded 40 times and dropped kept 18 MB and 80 thread chains before matcher/durable.py stopped both."""
    before = threading.active_count()
    pack = benefits.load_rules(RULES / "jiangmen")  # one pack alive, as in a service
    assert threading.active_count() == before
    rss = _rss_mb()
    for _ in range(40):
        dropped = benefits.load_rules(RULES / "jiangmen", memo=False)
        dropped.matcher.fired({"claim": 1, "visit": "inpatient"})
        del dropped
    gc.collect()
    pack.matcher.fired({"claim": 1, "visit": "inpatient"})  # deletes what the drops queued
    assert threading.active_count() == before
    assert _rss_mb() - rss < 6  # 40 x 0.45 MB = 18 MB when nothing was freed


def test_whole_pack_durable_and_reference_settle_every_case_alike():
    from conftest import RULES
    from benefits.cases import load_case
    from pathlib import Path

    durable = benefits.load_rules(RULES / "jiangmen", matcher="durable", memo=False)
    reference = benefits.load_rules(RULES / "jiangmen", matcher="reference", memo=False)
    cases = sorted((Path(__file__).parent / "cases" / "jiangmen").glob("*.yaml"))
    compared = 0
    for path in cases:
        case = load_case(path)
        if case.expected.error:
            continue
        a = benefits.evaluate(case.claim, durable, case.accumulators)
        b = benefits.evaluate(case.claim, reference, case.accumulators)
        assert a == b, path.name
        compared += 1
    assert compared >= 30


@pytest.mark.parametrize("code, name", [
    ("I10", "hypertension"), ("I15.901", "hypertension"), ("I16", "none"), ("E11.9", "diabetes"),
    ("N18.5", "uraemia"), ("C97", "cancer"), ("C98", "none"), ("Z94.0", "transplant"), ("x", "none"),
])
def test_primary_diagnosis_maps_to_the_packs_disease_lists(jiangmen, code, name):
    assert jiangmen.disease_of([code, "I10"]) == name  # only the primary (first) code counts


# --- fork ---------------------------------------------------------------------------------------
# Run in a fresh process under a timeout: a child that hangs must not hang pytest.

FORK_WHILE_BUSY = r"""
import json, os, random, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
from test_matcher import CONDITIONS, SPECS, random_fact
from benefits.conditions import parse
from benefits.matcher import make_matcher

trees = {rid: parse(text, SPECS) for rid, text in CONDITIONS.items()}
durable = make_matcher(trees, "durable", memo=False)
reference = make_matcher(trees, "reference", memo=False)
facts = [random_fact(random.Random(i)) for i in range(50)]
claims, stop = [0], threading.Event()

def hammer():
    while not stop.is_set():
        for f in facts:
            durable.fired(f)
            claims[0] += 1

threading.Thread(target=hammer, daemon=True).start()
while claims[0] < 100:
    time.sleep(0.001)
outcomes = []
for i in range(int(sys.argv[2])):
    time.sleep(random.random() * 0.003)
    pid = os.fork()
    if pid == 0:  # the child: the inherited pack, and one loaded here, answer as the reference
        fresh = make_matcher(trees, "durable", memo=False)
        ok = all(durable.fired(f) == reference.fired(f) == fresh.fired(f) for f in facts[:20])
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 10
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            outcomes.append("ok" if os.waitstatus_to_exitcode(status) == 0 else "wrong")
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            outcomes.append("hung")
            break
        time.sleep(0.005)
stop.set()
print(json.dumps({"outcomes": outcomes, "claims": claims[0]}))
"""


def test_a_fork_while_another_thread_is_using_the_matcher_leaves_every_child_working():
    """20 fork()s while another thread claims without pause: 3 children in 20 used to hang on their
    first claim (the lock copied held by a thread the child does not have)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    run = subprocess.run([sys.executable, "-c", FORK_WHILE_BUSY, str(Path(__file__).parent), "20"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["outcomes"] == ["ok"] * 20, result
    assert result["claims"] > 1000  # the other thread was busy throughout


FORK_WHILE_HELD = r"""
import os, random, sys, threading, time
sys.path.insert(0, sys.argv[1])
from test_matcher import CONDITIONS, SPECS, random_fact
from benefits.conditions import parse
from benefits.errors import BenefitsError
from benefits.matcher import durable, make_matcher

trees = {rid: parse(text, SPECS) for rid, text in CONDITIONS.items()}
old = make_matcher(trees, "durable", memo=False)
fact = random_fact(random.Random(1))
durable.FORK_WAIT = 0.2
held, done = threading.Event(), threading.Event()

def holder():  # as a thread stuck between two calls into durable-rules would
    with durable._lock:
        held.set()
        done.wait()

threading.Thread(target=holder, daemon=True).start()
held.wait()
pid = os.fork()
if pid == 0:
    try:
        old.fired(fact)
        os._exit(1)  # the inherited pack must refuse: its C state may be half-updated
    except BenefitsError:
        pass
    fresh = make_matcher(trees, "durable", memo=False)  # a pack loaded in the child works
    os._exit(0 if fresh.fired(fact) == make_matcher(trees, "reference").fired(fact) else 2)
done.set()
_, status = os.waitpid(pid, 0)
assert old.fired(fact) == make_matcher(trees, "reference").fired(fact)  # the parent is unaffected
print(os.waitstatus_to_exitcode(status))
"""


def test_a_child_forked_while_the_lock_could_not_be_taken_refuses_its_inherited_packs():
    import subprocess
    import sys
    from pathlib import Path

    run = subprocess.run([sys.executable, "-c", FORK_WHILE_HELD, str(Path(__file__).parent)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "0"


@pytest.mark.parametrize("name", ["jiangmen", "anyang", "mini"])
def test_each_packs_memo_answers_as_the_plain_matcher_does(name):
    """The memo of a loaded pack (keyed by the fields its conditions read) against the plain-Python
    matcher with no memo, on generated claims: days around every version start and year edge among
    them, ages from 0 to 100. (Keys by place among thresholds: the tests above, on conditions that
    compare dates and ages, which neither shipped pack's conditions do.)"""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from benefits.matcher.reference import ReferenceMatcher
    from generators import claims, deciding_day, examples, pack

    p = pack(name)
    plain = ReferenceMatcher(p.rules)

    @settings(max_examples=examples(2), deadline=None)
    @given(data=st.data())
    def run(data):
        c = data.draw(claims(p))
        c["member"]["age"] = data.draw(st.integers(0, 100))
        claim = benefits.Claim.model_validate(c)
        day = deciding_day(p, c)
        fact = build_fact(claim, day, p.disease_of(claim.diagnoses))
        assert p.matcher.fired(fact) == plain.fired(fact), fact

    run()
