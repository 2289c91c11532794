"""The `when:` condition language of rule files, parsed by our own code (never eval).

    scheme == employee and member_type == retired
    level in [level1, level2] and not filed
    groups has tekun or groups has guer
    age >= 60 and date >= 2021-07-01 and disease == hypertension

Grammar (lowest precedence first):
    expr   := term ('or' term)*
    term   := factor ('and' factor)*
    factor := 'not' factor | '(' expr ')' | test
    test   := FIELD OP VALUE | FIELD 'in' '[' VALUE (',' VALUE)* ']' | FIELD 'has' VALUE | FIELD
A bare FIELD is allowed for boolean fields (`filed`). Values are words, numbers, dates or
quoted strings, and are checked against the field's domain when the pack is loaded.

The parsed tree is put into negation-normal form (no `not` left: it is pushed into the
comparisons), which is what both matchers consume.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from .errors import ConditionSyntaxError
from .facts import FieldKind, FieldSpec, group_key

# --- the tree ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cmp:
    """`field op value`; value is already in the fact's representation (str, int, bool)."""

    field: str
    op: str  # == != < <= > >=
    value: object


@dataclass(frozen=True)
class Has:
    """Set membership on a list field: `groups has tekun` (or its negation)."""

    field: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Union[Cmp, Has, And, Or, Not]

_NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def to_nnf(node: Node, negate: bool = False) -> Node:
    """Push every `not` down to the comparisons (De Morgan)."""
    if isinstance(node, Not):
        return to_nnf(node.item, not negate)
    if isinstance(node, Cmp):
        return Cmp(node.field, _NEGATE[node.op], node.value) if negate else node
    if isinstance(node, Has):
        return Has(node.field, node.value, node.negated != negate)
    items = tuple(to_nnf(i, negate) for i in node.items)
    flip = isinstance(node, And) == negate  # not(a and b) = (not a) or (not b)
    return Or(items) if flip else And(items)


def fields_of(node: Node) -> set[str]:
    """The fact fields a condition reads."""
    if isinstance(node, (Cmp, Has)):
        return {node.field}
    if isinstance(node, Not):
        return fields_of(node.item)
    return set().union(*(fields_of(i) for i in node.items))


def reads(conds: list, specs) -> tuple[set[str], set[str], dict[str, set[int]]]:
    """What the conditions read: the fields, the groups tested with `has`, and the constants an
    ordered field is compared with."""
    fields: set[str] = set()
    groups: set[str] = set()
    constants: dict[str, set[int]] = {}

    def walk(node) -> None:
        if isinstance(node, (And, Or)):
            for item in node.items:
                walk(item)
        elif isinstance(node, Not):
            walk(node.item)
        elif isinstance(node, Has):
            groups.add(node.value)
        else:
            fields.add(node.field)
            if specs[node.field].ordered:
                constants.setdefault(node.field, set()).add(node.value)

    for c in conds:
        walk(c)
    return fields, groups, constants


def possible(node: Node, fact: dict, unknown: frozenset[str]) -> bool:
    """Whether the condition can hold for some fact that agrees with `fact` outside the `unknown`
    fields (a test of an unknown field may go either way). Trees are in negation-normal form, so
    counting such a test as true errs only towards "possible"."""
    if isinstance(node, And):
        return all(possible(i, fact, unknown) for i in node.items)
    if isinstance(node, Or):
        return any(possible(i, fact, unknown) for i in node.items)
    if isinstance(node, Not):
        return not fields_of(node.item) & unknown and not holds(node.item, fact)
    if node.field in unknown:
        return True
    return holds(node, fact)


def holds(node: Node, fact: dict) -> bool:
    """The reference semantics of a condition over a fact (see facts.build_fact).

    A comparison on a field the fact lacks is false, negated or not (as in durable-rules).
    """
    if isinstance(node, And):
        return all(holds(i, fact) for i in node.items)
    if isinstance(node, Or):
        return any(holds(i, fact) for i in node.items)
    if isinstance(node, Not):
        return not holds(node.item, fact)
    if isinstance(node, Has):
        key = group_key(node.field, node.value)
        return key in fact and fact[key] is (not node.negated)
    if node.field not in fact:
        return False
    left, right = fact[node.field], node.value
    return {
        "==": lambda: left == right,
        "!=": lambda: left != right,
        "<": lambda: left < right,
        "<=": lambda: left <= right,
        ">": lambda: left > right,
        ">=": lambda: left >= right,
    }[node.op]()


# --- the parser -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<date>\d{4}-\d{2}-\d{2})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<op>==|!=|<=|>=|<|>)
      | (?P<punct>[()\[\],])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
    )""",
    re.VERBOSE,
)
MAX_DEPTH = 20
_KEYWORDS = {"and", "or", "not", "in", "has"}


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionSyntaxError(text, pos, f"unexpected character {text[pos:].lstrip()[:1]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        start = m.start(kind)
        if kind == "word" and value in _KEYWORDS:
            kind = value
        tokens.append(_Tok(kind, value, start))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, fields: dict[str, FieldSpec]):
        self.text, self.fields = text, fields
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, kind: str | None = None, what: str = "") -> _Tok:
        tok = self.toks[self.i]
        if kind is not None and tok.kind != kind:
            found = "the end" if tok.kind == "end" else repr(tok.text)
            raise ConditionSyntaxError(self.text, tok.pos, f"expected {what or kind}, found {found}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.expr()
        self.take("end", "`and`, `or` or the end of the condition")
        return node

    def expr(self) -> Node:
        items = [self.term()]
        while self.peek().kind == "or":
            self.take()
            items.append(self.term())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def term(self) -> Node:
        items = [self.factor()]
        while self.peek().kind == "and":
            self.take()
            items.append(self.factor())
        return items[0] if len(items) == 1 else And(tuple(items))

    def factor(self) -> Node:
        tok = self.peek()
        if tok.kind != "not" and not (tok.kind == "punct" and tok.text == "("):
            return self.test()
        self.take()
        self.depth += 1  # bounded, so a hostile condition cannot exhaust the stack
        if self.depth > MAX_DEPTH:
            raise ConditionSyntaxError(self.text, tok.pos, f"conditions nest at most {MAX_DEPTH} deep")
        if tok.kind == "not":
            node: Node = Not(self.factor())
        else:
            node = self.expr()
            self.expect_punct(")")
        self.depth -= 1
        return node

    def test(self) -> Node:
        tok = self.take("word", "a field name")
        spec = self.fields.get(tok.text)
        if spec is None:
            known = ", ".join(sorted(self.fields))
            raise ConditionSyntaxError(self.text, tok.pos, f"unknown field {tok.text!r}; known fields: {known}")
        nxt = self.peek()
        if spec.kind is FieldKind.SET:
            self.take("has", f"`has` after the list field {spec.name!r}")
            value = self.value(spec)
            return Has(spec.name, value)
        if nxt.kind == "in":
            self.take()
            self.expect_punct("[")
            values = [self.value(spec)]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                values.append(self.value(spec))
            self.expect_punct("]")
            items = tuple(Cmp(spec.name, "==", v) for v in values)
            return items[0] if len(items) == 1 else Or(items)
        if nxt.kind == "op":
            op = self.take().text
            if op not in ("==", "!=") and not spec.ordered:
                raise ConditionSyntaxError(
                    self.text, nxt.pos, f"{spec.name!r} is not ordered: use == , != or in, not {op}"
                )
            return Cmp(spec.name, op, self.value(spec))
        if spec.kind is FieldKind.BOOL:
            return Cmp(spec.name, "==", True)
        found = "the end" if nxt.kind == "end" else repr(nxt.text)
        raise ConditionSyntaxError(self.text, nxt.pos, f"expected a comparison after {spec.name!r}, found {found}")

    def expect_punct(self, ch: str) -> None:
        tok = self.take()
        if tok.kind != "punct" or tok.text != ch:
            raise ConditionSyntaxError(self.text, tok.pos, f"expected `{ch}`, found {tok.text or 'the end'!r}")

    def value(self, spec: FieldSpec) -> object:
        tok = self.take()
        if tok.kind not in ("word", "number", "string", "date"):
            raise ConditionSyntaxError(self.text, tok.pos, f"expected a value for {spec.name!r}, found {tok.text or 'the end'!r}")
        text = tok.text[1:-1] if tok.kind == "string" else tok.text
        try:
            return spec.parse_value(text)
        except ValueError as exc:
            raise ConditionSyntaxError(self.text, tok.pos, str(exc)) from None


def parse(text: str, fields: dict[str, FieldSpec]) -> Node:
    """Parse a condition against the pack's fields; returns it in negation-normal form."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionSyntaxError(str(text), 0, "a condition must be non-empty text")
    if len(text) > 2000:
        raise ConditionSyntaxError(text[:40] + "...", 0, "a condition is limited to 2000 characters")
    return to_nnf(_Parser(text, fields).parse())


__all__ = ["Cmp", "Has", "And", "Or", "Not", "Node", "parse", "holds", "possible", "to_nnf", "fields_of", "group_key"]
