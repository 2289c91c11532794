"""Fuzzing the readers: YAML documents (yamlio.load_text / load_file), claims (load_text then
evaluate, and evaluate on Python values) and rule packs (load_rules on a copy of a pack with one
file mutated). Inputs come from hypothesis: a small YAML grammar of tricky scalars, tags,
anchors and indentation, and mutations of real claims and real rule files.

The one acceptable failure is our own validation error (benefits.BenefitsError); any other
exception, or a settlement breaking conservation, is a bug. What the fuzzer found is kept under
tests/fuzz_corpus/ and replayed by test_the_corpus_* below (see tests/fuzz_corpus/README.md).

A longer run:
    HYPOTHESIS_PROFILE=long BENEFITS_FUZZ_SAVE=/tmp/found python -m pytest tests/test_fuzz.py -p no:cacheprovider
writes each new failing input (the shrunk one last) under /tmp/found/ for the corpus.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import time
import traceback
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from generators import (
    PACKS,
    check_conservation,
    claim_and_accumulators,
    examples,
    pack,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import benefits
from benefits import BenefitsError, ClaimError, RuleFileError
from benefits.errors import shown
from benefits.yamlio import YamlError, load_file, load_text

CORPUS = Path(__file__).parent / "fuzz_corpus"
SLOW = 30.0  # seconds: a small input taking longer is a hang (the bombs took minutes; load varies)

# Crashes known and reported but not yet fixed, by name: a test of the exception and its traceback
# frames, e.g. lambda exc, frames: isinstance(exc, ValueError) and frames[-1].name == "contains".
# The fuzzers pass over them; give each a strict xfail in tests/test_hostile_input.py meanwhile.
KNOWN: dict = {}


def known(exc: BaseException) -> str | None:
    frames = traceback.extract_tb(exc.__traceback__)
    return next((name for name, test in KNOWN.items() if test(exc, frames)), None)


def save(kind: str, name: str, content) -> None:
    """With BENEFITS_FUZZ_SAVE=<dir>, keep a failing input (the last one written is the shrunk one).
    `content`: bytes, text, or a function giving either."""
    folder = os.environ.get("BENEFITS_FUZZ_SAVE")
    if not folder:
        return
    if callable(content):
        content = content()
    path = Path(folder) / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)


def only_our_errors(kind: str, name: str, content, call):
    """Run `call`; our validation errors are fine, anything else fails the test (and is saved)."""
    start = time.monotonic()
    try:
        return call()
    except BenefitsError as exc:
        assert str(exc), "an error must say what is wrong"
        return exc
    except Exception as exc:
        if known(exc):
            return exc
        save(kind, name, content)
        raise
    finally:
        assert time.monotonic() - start < SLOW, f"{kind}: took {time.monotonic() - start:.1f} s"


# --- a small YAML grammar ----------------------------------------------------------------------

TRICKY = [
    "~", "null", "true", "no", "on", "0", "-1", "1.5", "0.1", "-0.00", "100.005", "1_000.5", "1e999999999", "-1e60",
    "1e-999999999", ".inf", "-.inf", ".nan", "0x_", "0b_", "0o_", "0x1F", "0b101", "1:20", "1:20.5", "190:20:30",
    "2021-13-45", "2021-02-29", "2021-1-1", "2021-07-01", "2021-01-01T25:00:00", "2021-01-01 10:00:00 +08:00",
    "0000-00-00", "9999-12-31", "'quoted'", '"esc \\u00e9 \\x41"', "'it''s'", "é", "张三", "I²³", "C34.9", "65%",
    "101%", "nan%", "-5%", "1e999999999%", "level9", "inpatient", "resident", "employee", "dibao", "!!int abc",
    "!!int 12", "!!bool maybe", "!!bool yes", "!!timestamp soon", "!!map x", "!!seq x", "!!str [a]", "!!float x",
    "!!float 1.5", "!!binary '!!!'", "!!binary aGk=", "!!set {a}", "!!omap [a]", "!!omap [{a: 1}]", "!!pairs [a]",
    "!!null x", "!include x.yaml", "!!python/object:os.system {}", "!custom x", "*nowhere", "[]", "{}", "[a, [b]]",
    "{a: {b: c}}", "'", '"', "[", "{", "- a", "? x", ": x", "|", ">", "|-\n  text", "#", "@", "`", "%YAML 1.1",
    "---", "...", "9" * 5000, "x" * 300,
    # round two: notations YAML 1.1 read as other numbers, other scripts' digits, timestamps
    "012000", "00012000", "1:23:20", "0o17", "1_2000", "1.2e4", "１２", "٥.00", "-0", "-0.00", "yes", "off",
    "1627776000", "2021-07-01T00:00:00+14:00", "2021-07-01 00:00:00", "!!int 012000", "!!bool on",
]
KEYS = ["id", "member", "scheme", "visit", "level", "date", "bill", "total", "items", "values", "unit", "when",
        "value", "source", "caps", "ratio", "counters", "year", "2021-01-01", "'2021-01-01'", "<<", "? [a]", "1", "null"]


SCALARS = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12), st.integers().map(str),
                    st.decimals(allow_nan=True, allow_infinity=True).map(str))
TREES = st.recursive(
    SCALARS,
    lambda kids: st.one_of(st.lists(kids, min_size=1, max_size=4),
                           st.lists(st.tuples(st.sampled_from(KEYS), kids), min_size=1, max_size=4)),
    max_leaves=25,
)


@st.composite
def yaml_texts(draw) -> str:
    """A YAML document from a small grammar: block and flow mappings and sequences, anchors and
    aliases, tags, and tricky scalars at the leaves; sometimes broken in one place afterwards."""
    anchors: list[str] = []

    def node(tree) -> str:
        """A value as flow text, with an anchor, or an alias instead, now and then."""
        if anchors and draw(st.integers(0, 7)) == 0:
            return "*" + draw(st.sampled_from(anchors))
        if isinstance(tree, str):
            text = tree if "\n" not in tree else repr(tree)
        elif tree and isinstance(tree[0], tuple):
            text = "{" + ", ".join(f"{k}: {node(v)}" for k, v in tree) + "}"
        else:
            text = "[" + ", ".join(node(v) for v in tree) + "]"
        if draw(st.integers(0, 7)) == 0:
            anchors.append(f"a{len(anchors)}")
            text = f"&{anchors[-1]} {text}"
        return text

    def block(tree, indent: str) -> list[str]:
        if isinstance(tree, str) or draw(st.integers(0, 3)) == 0:
            return [indent + node(tree)]
        lines = []
        mapping = isinstance(tree[0], tuple)
        for item in tree:
            key, value = item if mapping else (None, item)
            head = f"{indent}{key}:" if mapping else f"{indent}-"
            if isinstance(value, str) or draw(st.booleans()):
                lines.append(f"{head} {node(value)}")
            else:
                lines.append(head)
                lines += block(value, indent + "  ")
        return lines

    tree = draw(TREES)
    text = "\n".join(block(tree, "")) + "\n"
    if draw(st.integers(0, 3)) == 0:
        text = draw(mutated_text(text))
    return text


def real_files() -> list[Path]:
    files = sorted(p for name in PACKS for p in PACKS[name].rglob("*.yaml"))
    return files + sorted((Path(__file__).parent / "cases").rglob("*.yaml"))[:20]


REAL = {str(p): p.read_text(encoding="utf-8") for p in real_files()}


@st.composite
def mutated_text(draw, text: str) -> str:
    """A real file with a few edits: lines dropped, doubled, swapped, re-indented, cut short,
    or a tricky token put in."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.integers(0, 6))
        if how == 0:
            del lines[i]
        elif how == 1:
            lines.insert(i, lines[i])
        elif how == 2:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif how == 3:
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t"])) + lines[i]
        elif how == 4:
            lines = lines[:i] + [lines[i][: draw(st.integers(0, len(lines[i])))]]
        else:
            line = lines[i]
            k = draw(st.integers(0, len(line)))
            token = draw(st.one_of(st.sampled_from(TRICKY), st.sampled_from(KEYS), st.text(max_size=4)))
            cut = draw(st.integers(0, 12)) if how == 5 else 0
            lines[i] = line[:k] + token + line[k + cut:]
    return "\n".join(lines) + "\n"


@st.composite
def nested(draw) -> str:
    """Deep nesting: flow or block, sequences or mappings."""
    n = draw(st.sampled_from([10, 63, 64, 65, 100, 1000, 20_000]))
    how = draw(st.integers(0, 2))
    if how == 0:
        return "a: " + "[" * n + "]" * n + "\n"
    if how == 1:
        return "a: " + "{b: " * n + "c" + "}" * n + "\n"
    return "".join("  " * i + "- \n" for i in range(min(n, 2000))) + "  " * min(n, 2000) + "x\n"


@st.composite
def bombs(draw) -> str:
    """Anchors whose aliases multiply: `levels` levels of `fan` aliases each ("billion laughs")."""
    levels, fan = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    flow = draw(st.booleans())
    lines = ["a0: &a0 " + ("[" + ", ".join(["x"] * fan) + "]" if flow else "x")]
    for i in range(1, levels):
        items = [f"*a{i - 1}"] * fan
        lines.append(f"a{i}: &a{i} [" + ", ".join(items) + "]" if flow else
                     f"a{i}: &a{i}\n" + "".join(f"  k{j}: *a{i - 1}\n" for j in range(fan)).rstrip())
    return "\n".join(lines) + "\n"


def any_text() -> st.SearchStrategy[str]:
    return st.one_of(yaml_texts(), yaml_texts(), st.sampled_from(sorted(REAL)).flatmap(lambda k: mutated_text(REAL[k])),
                     nested(), bombs())


def test_yaml_documents_give_data_or_our_error():
    @settings(max_examples=examples(4))
    @given(text=any_text())
    def run(text):
        out = only_our_errors("yaml", "document.yaml", text, lambda: load_text(text, "fuzz.yaml"))
        if isinstance(out, YamlError):
            assert str(out).startswith("fuzz.yaml")
        elif isinstance(out, tuple):
            _data, loc = out
            loc.line(("claim", "bill", "total"))  # any path: a line or None, never an error

    run()


def test_yaml_files_of_any_bytes_give_data_or_our_error(tmp_path):
    path = tmp_path / "fuzz.yaml"

    @settings(max_examples=examples(2))
    @given(raw=st.one_of(
        st.binary(max_size=200),
        any_text().map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.tuples(any_text(), st.sampled_from(["utf-16", "gb18030", "latin-1", "utf-8-sig"])).map(
            lambda p: p[0].encode(p[1], "replace")),
    ))
    def run(raw):
        path.write_bytes(raw)
        only_our_errors("yaml", "file.yaml", raw, lambda: load_file(path))

    run()


# --- claims ------------------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(), st.integers(-(10**80), 10**80), st.floats(), st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=3, min_value=-10**12, max_value=10**12),
    st.sampled_from([Decimal("1e60"), Decimal("-1e60"), Decimal("1E+999999"), Decimal("1e-999999"), Decimal("sNaN"),
                     Decimal("1000000000.01"), Decimal("-0.01"), Decimal("0.001"), 10**4000]),
)
TEXTS = st.one_of(st.text(max_size=10), st.sampled_from(TRICKY),
                  st.sampled_from(["I²³", "C34.9", "  i10 ", "Z94", "E1", "", "１０", "level9", "x" * 10_000]))
DATES = st.one_of(st.dates(), st.datetimes(), st.sampled_from(["2021-02-30", "2021-13-01", "20210101", "1/2/2021"]))
ANYTHING = st.one_of(st.none(), st.booleans(), NUMBERS, TEXTS, DATES, st.just([]), st.just({}),
                     st.lists(st.sampled_from(["dibao", "tekun", "nobody", ""]), max_size=3))


def _deep(levels: int) -> list:
    top: list = []
    cur = top
    for _ in range(levels):
        cur.append([])
        cur = cur[0]
    return top


def hostile_for(value) -> st.SearchStrategy:
    """A replacement for `value`: mostly something of its own kind gone wrong, sometimes anything."""
    if isinstance(value, bool) or value is None:
        kind = ANYTHING
    elif isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and value[:1].isdigit()):
        kind = st.one_of(NUMBERS, NUMBERS.map(str), st.sampled_from(["nan%", "1e999999999%", "101%", "-5%", "65"]))
    elif isinstance(value, (dt.date, dt.datetime)):
        kind = DATES
    elif isinstance(value, str):
        kind = TEXTS
    else:
        kind = ANYTHING
    return st.one_of(kind, kind, ANYTHING, st.sampled_from([100, 5000, 100_000]).map(_deep))


def _paths(value, at=()) -> list[tuple]:
    out = [at]
    if len(at) < 8:  # a mutation may have nested a value 100,000 deep: do not walk into it
        if isinstance(value, dict):
            for k, v in value.items():
                out += _paths(v, at + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                out += _paths(v, at + (i,))
    return out


def _respelled(key):
    """The same YAML key written another way: a date as a string and back, a number as text."""
    if isinstance(key, dt.date):
        return key.isoformat()
    if isinstance(key, str):
        try:
            return dt.date.fromisoformat(key)
        except ValueError:
            return key.upper()
    return str(key)


@st.composite
def mutated(draw, value):
    """`value` (a claim, accumulators or a rule file's data) with one place changed: a value
    replaced by a hostile one of its kind, a key dropped, added or spelled another way, a list
    item dropped or doubled. Every place is equally likely, however deep."""
    path = draw(st.sampled_from(_paths(value)))
    if not path:
        return draw(hostile_for(value))
    value = copy.copy(value)  # copies of the containers on the path only: the input is not changed
    parent = value
    for part in path[:-1]:
        parent[part] = copy.copy(parent[part])
        parent = parent[part]
    last = path[-1]
    how = draw(st.integers(0, 9))
    if how == 0:
        del parent[last]
    elif how == 1 and isinstance(parent, dict):
        parent[draw(st.sampled_from(KEYS + ["extra", "colour"]))] = draw(ANYTHING)
    elif how == 2 and isinstance(parent, dict):
        parent[_respelled(last)] = parent[last]
    elif how == 2:
        parent.append(parent[last])  # shared: YAML writes it as an anchor and an alias
    else:
        parent[last] = draw(hostile_for(parent[last]))
    return value


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", str(v))
                        if v.is_finite() else d.represent_scalar("tag:yaml.org,2002:str", str(v)))


def as_yaml(value) -> str:
    return yaml.dump(value, Dumper=_Dumper, allow_unicode=True, sort_keys=False)


FUZZED = [n for n in PACKS]


@pytest.mark.parametrize("name", FUZZED)
def test_claims_settle_or_are_refused_with_our_error(name):
    p = pack(name)

    @settings(max_examples=examples(2))
    @given(data=st.data())
    def run(data):
        claim, acc = claim_and_accumulators(data, p)
        for _ in range(data.draw(st.integers(1, 3), label="mutations")):
            if data.draw(st.integers(0, 3)) or acc is None:
                claim = data.draw(mutated(claim), label="claim'")
            else:
                acc = data.draw(mutated(acc), label="accumulators'")
        doc = {"claim": claim, "accumulators": acc, "pack": name}
        # the Python API, on the values themselves
        out = only_our_errors("claims", f"{name}-api.txt", lambda: shown(doc), lambda: benefits.evaluate(claim, p, acc))
        if isinstance(out, benefits.Settlement):
            check_conservation(out)
        elif isinstance(out, BenefitsError):
            assert isinstance(out, ClaimError)
        # the file path: YAML text, perhaps edited, read back and settled
        try:
            text = as_yaml(doc)
        except (yaml.YAMLError, UnicodeEncodeError, ValueError, RecursionError):
            return  # a value YAML cannot write (a lone surrogate, a list nested 100,000 deep)
        if data.draw(st.integers(0, 3), label="edit text") == 0:
            text = data.draw(mutated_text(text), label="text")

        def from_file():
            read, _ = load_text(text, "claim.yaml")
            if isinstance(read, dict) and "claim" in read:
                return benefits.evaluate(read["claim"], p, read.get("accumulators"))
            return benefits.evaluate(read, p)

        out = only_our_errors("claims", f"{name}.yaml", text, from_file)
        if isinstance(out, benefits.Settlement):
            check_conservation(out)

    run()


# --- rule packs -------------------------------------------------------------------------------------

PROBES = {
    "jiangmen": [
        {"id": "p1", "member": {"id": "m", "scheme": "resident", "member_type": "adult", "groups": ["dibao"]},
         "visit": "inpatient", "level": "level2", "admission_date": "2021-06-20", "discharge_date": "2021-07-02",
         "bill": {"total": "150000.00", "fully_self_paid": "1000.00", "over_limit": "0", "pre_self_paid": "2000.00",
                  "policy_range": "147000.00"}},
        {"id": "p2", "member": {"id": "m", "scheme": "employee", "member_type": "retired"},
         "visit": "general_outpatient", "level": "level1", "date": "2022-03-01",
         "bill": {"total": "300.00", "fully_self_paid": "0", "over_limit": "0", "pre_self_paid": "0",
                  "policy_range": "300.00"}},
    ],
    "mini": [
        {"id": "p1", "member": {"id": "m", "scheme": "employee"}, "visit": "general_outpatient", "level": "clinic",
         "date": "2022-03-05", "bill": {"total": "300.00", "fully_self_paid": "0", "over_limit": "0",
                                        "pre_self_paid": "0", "policy_range": "300.00"}},
    ],
}


@st.composite
def mutated_data_text(draw, text: str) -> str:
    """A real rule file read as data, a few values replaced or keys dropped or added, written back."""
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for _ in range(draw(st.integers(1, 3))):
        data = draw(mutated(data))
    try:
        return as_yaml(data)
    except (yaml.YAMLError, UnicodeEncodeError, ValueError, RecursionError):
        return text


# Jiangmen's ~20 files take PyYAML (pure Python) ~0.3 s to read: fewer examples there, more on mini.
RULE_EXAMPLES = {"mini": 4, "jiangmen": 0.4}


@pytest.mark.parametrize("name", list(PROBES))
def test_rule_packs_load_whole_or_are_refused_with_every_problem_located(name, tmp_path):
    root = tmp_path / name
    shutil.copytree(PACKS[name], root)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.yaml"))
    originals = {rel: (root / rel).read_text(encoding="utf-8") for rel in files}

    @settings(max_examples=examples(RULE_EXAMPLES[name]))
    @given(data=st.data())
    def run(data):
        rel = data.draw(st.sampled_from(files), label="file")
        text = data.draw(st.one_of(mutated_text(originals[rel]), mutated_data_text(originals[rel])), label="text")
        (root / rel).write_text(text, encoding="utf-8")
        try:
            out = only_our_errors("rules", f"{name}--{rel.replace('/', '--')}", text,
                                  lambda: benefits.load_rules(root, matcher="reference"))
        finally:
            (root / rel).write_text(originals[rel], encoding="utf-8")
        if isinstance(out, BenefitsError):
            assert isinstance(out, RuleFileError) and out.problems
            for problem in out.problems:
                assert problem.file.startswith(name) and problem.message, problem
            return
        # it loaded: the pack settles its probe claims or refuses them with our error, and (one
        # time in three) the production matcher agrees with the reference on every rule
        durable = out
        if data.draw(st.integers(0, 2), label="durable") == 0:
            (root / rel).write_text(text, encoding="utf-8")
            try:
                durable = benefits.load_rules(root, matcher="durable")
            finally:
                (root / rel).write_text(originals[rel], encoding="utf-8")
        for probe in PROBES[name]:
            a = only_our_errors("rules", f"{name}--probe.yaml", text, lambda c=probe: benefits.evaluate(c, out))
            b = only_our_errors("rules", f"{name}--probe.yaml", text, lambda c=probe: benefits.evaluate(c, durable))
            if isinstance(a, benefits.Settlement):
                check_conservation(a)
                assert a == b
            else:
                assert str(a) == str(b)

    run()


# --- the corpus of what the fuzzer found ------------------------------------------------------------

YAML_CORPUS = sorted((CORPUS / "yaml").glob("*"))
CLAIM_CORPUS = sorted((CORPUS / "claims").glob("*"))
RULE_CORPUS = sorted(p for p in (CORPUS / "rules").iterdir() if p.is_dir())
XFAIL: dict = {}  # corpus entry name -> a KNOWN test: it still crashes (reported, not yet fixed)


def replay(entry: Path, call):
    test = XFAIL.get(entry.name)
    if test is None:
        return only_our_errors("corpus", entry.name, b"", call)
    try:
        call()
    except Exception as exc:
        if test(exc, traceback.extract_tb(exc.__traceback__)):
            pytest.xfail(f"{entry.name}: known bug, see KNOWN in tests/test_fuzz.py")
        raise
    pytest.fail(f"{entry.name} no longer crashes: remove it from XFAIL")


def test_the_corpus_is_there():
    assert len(YAML_CORPUS) >= 10 and CLAIM_CORPUS and RULE_CORPUS


@pytest.mark.parametrize("entry", YAML_CORPUS, ids=[p.name for p in YAML_CORPUS])
def test_the_corpus_of_yaml_documents(entry):
    replay(entry, lambda: load_file(entry))


@pytest.mark.parametrize("entry", CLAIM_CORPUS, ids=[p.name for p in CLAIM_CORPUS])
def test_the_corpus_of_claims(entry):
    def settle():
        doc, _ = load_file(entry)
        if isinstance(doc, dict) and "claim" in doc:
            return benefits.evaluate(doc["claim"], pack(doc.get("pack", "jiangmen")), doc.get("accumulators"))
        return benefits.evaluate(doc, pack("jiangmen"))

    out = replay(entry, settle)
    if isinstance(out, benefits.Settlement):
        check_conservation(out)


@pytest.mark.parametrize("entry", RULE_CORPUS, ids=[p.name for p in RULE_CORPUS])
def test_the_corpus_of_rule_packs(entry, tmp_path):
    """An entry is a folder `<pack>--<what>` holding the files that replace the pack's own."""
    base = entry.name.split("--")[0]
    root = tmp_path / base
    shutil.copytree(PACKS[base], root)
    for f in entry.rglob("*"):
        if f.is_file() and f.name != "README":
            (root / f.relative_to(entry)).write_bytes(f.read_bytes())
    out = replay(entry, lambda: benefits.load_rules(root))
    assert isinstance(out, (benefits.RulePack, RuleFileError))
    expect = entry / "README"
    if expect.exists() and isinstance(out, RuleFileError):
        wanted = expect.read_text(encoding="utf-8").strip().splitlines()[-1]
        assert any(wanted in str(p) for p in out.problems), (wanted, [str(p) for p in out.problems])


