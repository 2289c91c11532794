"""Money and ratios: `Decimal` yuan at every public edge, integer fen inside the engine.

At the edge, money is `decimal.Decimal` in yuan with two places (`Money`); inside, the calculator
works in integer fen and ratios in integer parts per million (`RATIO`), so that every value it
computes is an exact fraction with a known denominator, rounded only where the rules round
(domain.md 6.9: once per layer payout, and per item in the bill split), half up (`half_up`).
Text for people is made here too (`fmt`, `fmt_fen`, `fmt_ratio`).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext
from functools import lru_cache
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

from .errors import shown

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
ONE = Decimal(1)
HUNDRED = Decimal(100)
# Far above any real claim; rejects typos such as an extra six zeros before they reach a ledger.
MAX_AMOUNT = Decimal("1000000000.00")
# Exact arithmetic for every intermediate value: 50 digits is far beyond any yuan amount x ratio.
PRECISION = 50


RATIO = 1_000_000
"""A ratio of 1 (100%) in the engine's integer ratio units: parts per million. A percentage
parameter may have at most four decimals (12.3456%), which the loader checks."""
POINT = RATIO // 100
"""One percentage point in ratio units."""


# Conversions below name their context: a settlement's lists are written when first read, possibly
# under a caller's decimal context of a few digits, which must not round them.
_CTX = Context(prec=PRECISION, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])
_multiply = _CTX.multiply
# Where a product must be exact or refused: any rounding at all raises Inexact.
_WHOLE = Context(prec=PRECISION, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to a whole number, halves up (both non-negative): the one
    rounding of domain.md 6.9, on an exact fraction of fen."""
    return (2 * numerator + denominator) // (2 * denominator)


def to_fen(value: Decimal) -> int:
    """A Money value (two decimals, so its denominator divides 100) as integer fen."""
    n, d = value.as_integer_ratio()  # exact, whatever the context; cheaper than scaleb() and int()
    return n * 100 // d


def from_fen(fen: int) -> Decimal:
    """Integer fen as a Money value: Decimal yuan with exactly two decimals."""
    # fen x 0.01 is exact under the engine's context (far more digits than any amount), and about
    # a third cheaper than scaleb(): a settlement makes a dozen of these
    return _multiply(fen, FEN) if fen else ZERO


def add_exactly(first: Decimal, *rest: Decimal) -> Decimal:
    """The sum of amounts, under the engine's context whatever the caller's."""
    total = first
    for amount in rest:
        total = _CTX.add(total, amount)
    return total


def fmt_fen(fen: int) -> str:
    """Integer fen as text with two decimals: 123450 -> '1234.50'."""
    whole, cents = divmod(fen, 100) if fen >= 0 else (-((-fen) // 100), (-fen) % 100)
    return f"{'-' if fen < 0 and whole == 0 else ''}{whole}.{cents:02d}"


def fmt_exact(numerator: int, denominator: int) -> str:
    """An exact intermediate amount (fen numerator / denominator) as `fmt` shows it."""
    if numerator % denominator == 0:
        return fmt_fen(numerator // denominator)
    with exact():
        return fmt(_CTX.divide(Decimal(numerator), _CTX.multiply(Decimal(denominator), HUNDRED)))


def units_of(value: Decimal, scale: int) -> int | None:
    """value x scale as a whole number, exactly whatever the caller's decimal context; None when it
    is not one (a ratio with more decimals than the engine's units hold)."""
    try:
        units = _WHOLE.multiply(value, scale)
        return int(units.to_integral_exact(context=_WHOLE))
    except Inexact:  # a product of more digits than any real parameter, or a fraction left over
        return None


def ratio_of(value: Decimal) -> int:
    """A ratio (0.65) in RATIO units (650000); ValueError when it has more than six decimals."""
    units = units_of(value, RATIO)
    if units is None:
        raise ValueError(f"{fmt_ratio(value)} has more than four decimals in percent")
    return units


def shifted(number: int | Decimal, places: int) -> Decimal:
    """number x 10^-places as a Decimal, whatever the caller's decimal context: (15, 1) -> 1.5,
    (Decimal('12.5'), 2) -> 0.125. Exact for numbers of up to PRECISION digits."""
    return Decimal(number).scaleb(-places, _CTX)


def round_fraction(numerator: int, denominator: int, places: int) -> Decimal:
    """numerator / denominator (denominator > 0) to `places` decimals, halves away from zero
    (ROUND_HALF_UP), from the exact fraction: no intermediate rounding, no caller's context."""
    scaled = numerator * 10**places
    whole = half_up(scaled, denominator) if scaled >= 0 else -half_up(-scaled, denominator)
    return shifted(whole, places)


def quantized(value: Decimal, exp: Decimal) -> Decimal:
    """value rounded half up to the exponent of `exp` (FEN: 0.01) under the engine's context."""
    return value.quantize(exp, rounding=ROUND_HALF_UP, context=_CTX)


@lru_cache(maxsize=1024)  # a pack has a few dozen ratios
def trimmed(value: Decimal) -> Decimal:
    """The same number written one way, exactly: without trailing zeros after the point and without an
    exponent above zero (3.0 -> 3, -10.00 -> -10, 0.00 and -0 -> 0, 1E+2 -> 100). For bounded values:
    1E+999999 would be written out in a million digits."""
    sign, digits, exp = value.as_tuple()
    if not any(digits):
        return Decimal(0)
    # the trailing zeros after the point, counted at once (one at a time was quadratic: a quantity of
    # "1." and 300,000 zeros took 24 s)
    zeros = len(digits) - len(bytes(digits).rstrip(b"\0"))
    cut = min(zeros, -exp) if exp < 0 else 0
    if cut:
        digits, exp = digits[:-cut], exp + cut
    if exp > 0:
        digits, exp = digits + (0,) * exp, 0
    return Decimal((sign, digits, exp))


def ratio_decimal(units: int) -> Decimal:
    """RATIO units as the Decimal ratio the public API shows (650000 -> Decimal('0.65'))."""
    return _CTX.divide(Decimal(units), RATIO).normalize(_CTX) if units % RATIO else Decimal(units // RATIO)


def fmt_units(units: int) -> str:
    """RATIO units as a percentage: 650000 -> '65%'."""
    with exact():
        return fmt_ratio(_CTX.divide(Decimal(units), RATIO))


def round_fen(value: Decimal) -> Decimal:
    """Round to 0.01 yuan, ROUND_HALF_UP (四舍五入到分)."""
    return quantized(value, FEN)


def exact():
    """A fresh decimal context, wide enough that intermediate products and quotients are exact,
    whatever context the caller has set."""
    return localcontext(_CTX)  # localcontext works on a copy: _CTX itself never changes


def fmt(value: Decimal) -> str:
    """Money as text with two decimals: 1234.50. An exact intermediate keeps its digits (5252.3445),
    shown to 8 decimals with '...' when it has more (a division: 42381.81818181...)."""
    text = str(value)
    if text[-3:-2] == ".":  # already to the fen (exponent -2), the common case: str() is exact
        return text
    if value == round_fen(value):
        return f"{round_fen(value):.2f}"
    text = f"{value.normalize(_CTX):f}"
    whole, _, decimals = text.partition(".")
    return text if len(decimals) <= 8 else f"{whole}.{decimals[:8]}..."


@lru_cache(maxsize=1024)  # a pack has a few dozen ratios; equal Decimals print the same
def fmt_ratio(ratio: Decimal) -> str:
    """A ratio as a percentage: Decimal('0.65') -> '65%'."""
    pct = _CTX.multiply(ratio, HUNDRED).normalize(_CTX)
    return f"{pct:f}%"


# A number as text: ASCII digits, an optional sign and decimal point, nothing else. `Decimal()`
# alone also takes '1_000', '1e3', ' 12 ' and other scripts' digits ('５.00'), none of which an
# export of amounts should contain.
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_MONEY_TEXT = re.compile(r"[0-9]{1,10}\.[0-9]{2}")  # how amounts are written: no sign, exactly two decimals


def is_number_text(value: str) -> bool:
    """Whether `value` is a decimal number as amounts and shares may be written: digits, a point,
    a sign; no exponent, no spaces, no underscores, ASCII digits only."""
    return _NUMBER.fullmatch(value) is not None


def _number_text(value: str, what: str) -> Decimal:
    if not is_number_text(value):
        raise ValueError(f"expected {what}, got {shown(value)}")
    return Decimal(value)


def parse_money(value: object) -> Decimal:
    """Validate an amount: a Decimal, int or decimal string; never a float; at most two decimals.
    Zero is always +0.00: a '-0.00' passed on would read as a reversal to a platform that reads signs.
    Whatever decimal context the caller has set: nothing here rounds or traps under it."""
    if type(value) is str:  # the common case (JSON, YAML): one match, one conversion
        if _MONEY_TEXT.fullmatch(value):  # already to the fen: nothing to round
            d = Decimal(value)
            if d <= MAX_AMOUNT:
                return d if d else ZERO
        elif _NUMBER.fullmatch(value):
            d = Decimal(value)
            if ZERO < d <= MAX_AMOUNT:
                q = d.quantize(FEN, context=_CTX)
                if q == d:
                    return q
        # anything else: the checks below say what is wrong
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(
            "an amount must be a decimal number written exactly (e.g. 1234.50 or '1234.50'); "
            "floats cannot hold fen exactly"
        )
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        value = _number_text(value, "an amount in yuan such as 1234.50")
    if not isinstance(value, Decimal):
        raise ValueError(f"expected an amount in yuan such as 1234.50, got {shown(value)}")
    if not value.is_finite():
        raise ValueError(f"expected a finite amount, got {value}")
    if value.copy_abs() > MAX_AMOUNT:  # before quantize(), which raises on more digits than the context holds
        raise ValueError(f"an amount cannot be negative, got {value}" if value < 0
                         else f"amount {value} is above the largest accepted ({MAX_AMOUNT})")
    if value != value.quantize(FEN, rounding=ROUND_HALF_UP, context=_CTX):
        raise ValueError(f"an amount has at most two decimals (fen), got {value}")
    if value < 0:
        raise ValueError(f"an amount cannot be negative, got {value}")
    if value > MAX_AMOUNT:
        raise ValueError(f"amount {value} is above the largest accepted ({MAX_AMOUNT})")
    return value.quantize(FEN, context=_CTX) if value else ZERO


MAX_DIGITS = 100
"""The most digits a quantity or share may have, and the most decimals: far beyond any real one. The
engine reads it as an exact fraction, whose denominator is 10 to the number of decimals, so
1e-999999999 (valid JSON) would be a number of a billion digits: minutes of one CPU for one item."""


def is_bounded(d: Decimal) -> bool:
    """Whether a finite Decimal has at most MAX_DIGITS digits and MAX_DIGITS decimals, and an exponent no
    larger (0E+999999999 is zero, but written back as text no reader of ours takes)."""
    _, digits, exponent = d.as_tuple()
    return len(digits) <= MAX_DIGITS and -MAX_DIGITS <= exponent <= MAX_DIGITS


def parse_decimal(value: object) -> Decimal:
    """A non-money decimal (a quantity, a share): exact, finite, never a float, at most MAX_DIGITS digits."""
    if value is None:  # an optional field left empty
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("write the number exactly as a decimal (e.g. 0.10 or '0.10'), not a float")
    if isinstance(value, str) and len(value) > 2 * MAX_DIGITS + 2:  # before it is read: a megabyte of digits
        raise ValueError(f"expected a decimal number of at most {MAX_DIGITS} digits, got {shown(value)}")
    d = _number_text(value, "a decimal number") if isinstance(value, str) else Decimal(value) if isinstance(value, int) else value
    if not isinstance(d, Decimal) or not d.is_finite():
        raise ValueError(f"expected a finite decimal number, got {shown(value)}")
    if not is_bounded(d):
        raise ValueError(f"expected a decimal number of at most {MAX_DIGITS} digits and {MAX_DIGITS} decimals, "
                         f"got {shown(str(d))}")
    return d if d else d.copy_abs()


def _serialize(value: Decimal) -> str:
    return f"{value:.2f}" if value else "0.00"  # never "-0.00"


Money = Annotated[
    Decimal,
    BeforeValidator(parse_money),
    PlainSerializer(_serialize, return_type=str, when_used="json"),
]
"""An amount in yuan: Decimal, two places, non-negative; JSON carries it as a string."""
