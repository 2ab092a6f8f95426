"""Argument parsers: how a request's bytes become numbers, choices and ranges.

Every command family parses its arguments with these, so that each rule (and
its error text) follows Redis once:

- :func:`parse_int`: string2ll, a strict 64-bit integer;
- :func:`parse_db_number`: a database index, a C int (getIntFromObject);
- :func:`parse_choice`: one of two keywords;
- :func:`parse_double`: string2d, a strict double (ZADD scores, INCRBYFLOAT's
  siblings): no blanks, no NaN, no overflow or underflow to zero;
- :func:`parse_long_double`: string2ld, an 80-bit long double as an exact
  rational (INCRBYFLOAT), with :func:`round_long_double`;
- :func:`parse_score_range`: a sorted-set score interval as zslParseRange
  reads it (``(1``, ``-inf``, ``+inf``): plain strtod, which is looser;
- :func:`parse_lex_range`: a lexicographic interval (``[a``, ``(a``, ``-``,
  ``+``) as zslParseLexRange reads it.

Sizes with units (``4gb``) are configuration, not request arguments: they
live in cluster.config.
"""

from __future__ import annotations

import re
import sys
from fractions import Fraction

from cluster import errors
from cluster.errors import CommandError


def parse_int(raw: bytes, error: str = errors.NOT_INTEGER) -> int:
    """Redis's string2ll: a strict 64-bit integer or the given error."""
    if len(raw) > 20 or not raw:
        raise CommandError(error)
    body = raw[1:] if raw[:1] == b"-" else raw
    if not body.isdigit() or (len(body) > 1 and body[:1] == b"0") or raw == b"-0":
        raise CommandError(error)
    value = int(raw)
    if not -(2**63) <= value < 2**63:
        raise CommandError(error)
    return value


def parse_choice(raw: bytes, yes: bytes, no: bytes) -> bool:
    """One of two keywords (case-insensitive): True for ``yes``; else a syntax error."""
    word = raw.lower()
    if word == yes:
        return True
    if word == no:
        return False
    raise CommandError(errors.SYNTAX)


def parse_db_number(raw: bytes) -> int:
    """A database number as Redis's getIntFromObject reads it: a strict C int."""
    index = parse_int(raw)
    if not -(2**31) <= index < 2**31:
        raise CommandError(errors.INT_OUT_OF_RANGE)
    return index


# Long double (x87 80-bit extended): 64-bit significand, exponents down to
# the least subnormal 2**-16445, overflow at 2**16384.
_LD_DIGITS = 64
_LD_LEAST_EXP = -16445
_LD_OVERFLOW_BITS = 16384
_LD_MAX_CHARS = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS
_INF = float("inf")

_DECIMAL = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\Z")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?\Z")
_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)\Z", re.IGNORECASE)


def _long_int(digits: bytes, base: int = 10) -> int:
    """int() for digit strings longer than Python's 4300-digit guard."""
    if len(digits) <= 4000:
        return int(digits, base)
    half = len(digits) // 2
    return _long_int(digits[:half], base) * base ** (len(digits) - half) + \
        _long_int(digits[half:], base)


def round_long_double(q: Fraction):
    """``q`` rounded to the nearest long double (ties to even); ``_INF``
    (signed) on overflow.  A non-zero ``q`` may round to 0 (underflow)."""
    n, d = q.numerator, q.denominator
    if n == 0:
        return q
    sign = -1 if n < 0 else 1
    n = abs(n)
    exp = n.bit_length() - d.bit_length() - _LD_DIGITS + 1  # n/d/2**exp < 2**64
    if (n >> exp if exp >= 0 else n << -exp) < d << (_LD_DIGITS - 1):
        exp -= 1  # n/d/2**exp must be in [2**63, 2**64)
    exp = max(exp, _LD_LEAST_EXP)
    num, den = (n, d << exp) if exp >= 0 else (n << -exp, d)
    mant, rest = divmod(num, den)
    if 2 * rest > den or (2 * rest == den and mant & 1):
        mant += 1
    if mant.bit_length() + exp > _LD_OVERFLOW_BITS:
        return sign * _INF
    value = Fraction(mant << exp) if exp >= 0 else Fraction(mant, 1 << -exp)
    return value if sign > 0 else -value


def parse_long_double(raw: bytes):
    """Redis's string2ld (strtold plus its checks) or ``errors.NOT_FLOAT``.

    Decimal and hexadecimal notations and inf/infinity are accepted; NaN,
    blanks, overflow and underflow to zero are not.
    """
    if not raw or len(raw) >= _LD_MAX_CHARS:
        raise CommandError(errors.NOT_FLOAT)
    m = _DECIMAL.match(raw)
    if m is not None:
        sign, whole, frac, exp10 = m.groups()
        frac = frac or b""
        if not whole and not frac:
            raise CommandError(errors.NOT_FLOAT)
        digits = (whole + frac).lstrip(b"0")
        if not digits:
            return Fraction(0)
        scale = _exponent(exp10) - len(frac)
        magnitude = len(digits) + scale  # the value is below 10**magnitude
        if magnitude > 4940:
            raise CommandError(errors.NOT_FLOAT)  # overflow: HUGE_VALL
        if magnitude < -4960:
            raise CommandError(errors.NOT_FLOAT)  # underflow to zero
        mantissa = _long_int(digits)
        exact = Fraction(mantissa * 10**scale) if scale >= 0 else Fraction(mantissa, 10**-scale)
        return _checked(round_long_double(exact if sign != b"-" else -exact))
    m = _HEX.match(raw)
    if m is not None:
        sign, whole, frac, exp2 = m.groups()
        frac = frac or b""
        if not whole and not frac:
            raise CommandError(errors.NOT_FLOAT)  # "0x" alone: strtold stops at x
        digits = (whole + frac).lstrip(b"0")
        if not digits:
            return Fraction(0)
        scale = _exponent(exp2) - 4 * len(frac)
        bits = 4 * len(digits) + scale
        if bits > _LD_OVERFLOW_BITS + 8 or bits < _LD_LEAST_EXP - 8:
            raise CommandError(errors.NOT_FLOAT)
        mantissa = _long_int(digits, 16)
        exact = Fraction(mantissa << scale) if scale >= 0 else Fraction(mantissa, 1 << -scale)
        return _checked(round_long_double(exact if sign != b"-" else -exact))
    m = _INFINITY.match(raw)
    if m is not None:
        return -_INF if m.group(1) == b"-" else _INF
    raise CommandError(errors.NOT_FLOAT)


def parse_mpop(args, at: int, sides: dict) -> tuple:
    """LMPOP's and ZMPOP's tail (and their blocking forms'): ``numkeys key ...
    <side> [COUNT n]`` from ``args[at]``; (keys, sides[side], count or None)."""
    numkeys = parse_int(args[at], errors.NUMKEYS_POSITIVE)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS_POSITIVE)
    where = at + 1 + numkeys
    if where >= len(args):
        raise CommandError(errors.SYNTAX)
    side = sides.get(args[where].lower())
    if side is None:
        raise CommandError(errors.SYNTAX)
    count = None
    i = where + 1
    while i < len(args):
        if count is None and args[i].lower() == b"count" and i + 1 < len(args):
            count = parse_int(args[i + 1], errors.COUNT_POSITIVE)
            if count < 1:
                raise CommandError(errors.COUNT_POSITIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    return args[at + 1:where], side, count


_LLONG_MAX = 2**63 - 1


def parse_timeout_ms(raw: bytes, now_ms: int) -> int:
    """A blocking command's timeout in seconds, as Redis 7.0 reads it: the
    milliseconds to wait, rounded up; 0 waits for ever.

    The quirks are Redis's: the value is a long double (hex and ``1e-400``
    accepted), and one too big for a 64-bit count of milliseconds (``inf``
    included) wraps to a negative number there, so it is "negative" too.
    """
    try:
        value = parse_long_double(raw)
    except CommandError:
        raise CommandError(errors.TIMEOUT_NOT_FLOAT) from None
    if value in (_INF, -_INF) or not -_LLONG_MAX - 1 <= value * 1000 <= _LLONG_MAX:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    ms = -((-value * 1000) // 1)  # ceil, exactly
    if ms < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    if ms and ms > _LLONG_MAX - now_ms:
        raise CommandError(errors.TIMEOUT_OUT_OF_RANGE)
    return int(ms)


def _exponent(raw) -> int:
    """An exponent's value; absurdly long ones are clamped (they overflow or
    underflow whatever the digits)."""
    if not raw:
        return 0
    negative = raw[:1] == b"-"
    digits = raw.lstrip(b"+-").lstrip(b"0") or b"0"
    if len(digits) > 12:
        return -(10**12) if negative else 10**12
    return -int(digits) if negative else int(digits)


def _checked(value):
    if value == 0 or value in (_INF, -_INF):  # ERANGE with 0 or HUGE_VALL
        raise CommandError(errors.NOT_FLOAT)
    return value


# -- doubles (C's strtod, as Redis calls it) ----------------------------------

_C_SPACE = b" \t\n\v\f\r"  # isspace() in the C locale
_NAN = re.compile(rb"[+-]?nan(?:\([0-9A-Za-z_]*\))?\Z", re.IGNORECASE)
_NONZERO_DIGIT = re.compile(rb"[1-9a-fA-F]")


def _whole_double(text: bytes):
    """strtod over the whole of ``text`` (no leading blanks): ``(value,
    out_of_range)``, or None when ``text`` is not one number from end to end.
    ``out_of_range`` is strtod's ERANGE: a finite literal that overflowed to
    infinity, or a non-zero one that underflowed to zero."""
    m = _DECIMAL.match(text)
    if m is not None:
        sign, whole, frac, _exp = m.groups()
        if not whole and not frac:
            return None
        value = float(text)  # correctly rounded, as glibc's strtod
    else:
        m = _HEX.match(text)
        if m is None:
            m = _INFINITY.match(text)
            if m is not None:
                return (-_INF if m.group(1) == b"-" else _INF), False
            return (float("nan"), False) if _NAN.match(text) else None
        sign, whole, frac, _exp = m.groups()
        if not whole and not frac:
            return None  # "0x": strtod reads the 0 and stops at the x
        try:
            value = float.fromhex(text.decode())
        except OverflowError:
            return (-_INF if sign == b"-" else _INF), True
    if value in (_INF, -_INF):
        return value, True
    if value == 0 and _NONZERO_DIGIT.search((whole or b"") + (frac or b"")):
        return value, True
    return value, False


def parse_double(raw: bytes, error: str = errors.NOT_FLOAT) -> float:
    """Redis's string2d (getDoubleFromObject): the whole argument is one
    number; leading blanks, NaN, and overflow or underflow to zero are
    refused.  ``inf`` and subnormal values are accepted."""
    if not raw or raw[0] in _C_SPACE:
        raise CommandError(error)
    parsed = _whole_double(raw)
    if parsed is None or parsed[1] or parsed[0] != parsed[0]:
        raise CommandError(error)
    return parsed[0]


def parse_sort_weight(text: bytes):
    """strtod as SORT checks a weight, or None where SORT refuses it: the
    text ends at its first NUL and must be used up (an empty one is 0;
    leading blanks are skipped, trailing ones are not); NaN and glibc's
    ERANGE (overflow, and underflow to zero or to a subnormal) are refused."""
    if text.isdigit() or (text[:1] == b"-" and text[1:].isdigit()):  # the common case
        value = float(text)
        return None if value in (_INF, -_INF) else value
    text = text.split(b"\0", 1)[0]
    if not text:
        return 0.0
    parsed = _whole_double(text.lstrip(_C_SPACE))
    if parsed is None:
        return None
    value, out_of_range = parsed
    if out_of_range or value != value or (value and abs(value) < _DBL_MIN):
        return None
    return value


_DBL_MIN = sys.float_info.min  # the smallest normal double


def _range_double(text: bytes) -> float:
    """strtod as zslParseRange calls it: blanks before the number are
    skipped, the text ends at its first NUL, an empty text is 0, an
    overflow is an infinity; only NaN and trailing garbage are refused."""
    text = text.split(b"\0", 1)[0]
    if not text:
        return 0.0  # strtod converts nothing and stops at the end: accepted
    parsed = _whole_double(text.lstrip(_C_SPACE))
    if parsed is None or parsed[0] != parsed[0]:
        raise CommandError(errors.MIN_MAX_NOT_FLOAT)
    return parsed[0]


class _Interval:
    """A closed, open or half-open interval; ``_compare`` orders the values."""

    __slots__ = ("min", "max", "min_exclusive", "max_exclusive")

    def __init__(self, low, high, min_exclusive=False, max_exclusive=False):
        self.min = low
        self.max = high
        self.min_exclusive = min_exclusive
        self.max_exclusive = max_exclusive

    @staticmethod
    def _compare(a, b) -> int:
        return (a > b) - (a < b)

    def is_empty(self) -> bool:
        """Nothing can be inside (the first test of zslIsInRange / zslIsInLexRange)."""
        cmp = self._compare(self.min, self.max)
        return cmp > 0 or (cmp == 0 and (self.min_exclusive or self.max_exclusive))

    def above_min(self, value) -> bool:
        cmp = self._compare(value, self.min)
        return cmp > 0 if self.min_exclusive else cmp >= 0

    def below_max(self, value) -> bool:
        cmp = self._compare(value, self.max)
        return cmp < 0 if self.max_exclusive else cmp <= 0

    def __contains__(self, value) -> bool:
        return self.above_min(value) and self.below_max(value)

    def __repr__(self):
        return "%s(%s%r, %r%s)" % (type(self).__name__, "(" if self.min_exclusive else "[",
                                   self.min, self.max, ")" if self.max_exclusive else "]")


class ScoreRange(_Interval):
    """A score interval of ZRANGEBYSCORE, ZCOUNT ...; ``*_exclusive`` for ``(``."""

    __slots__ = ()

    def above_min(self, score: float) -> bool:  # floats compare directly: faster
        return score > self.min if self.min_exclusive else score >= self.min

    def below_max(self, score: float) -> bool:
        return score < self.max if self.max_exclusive else score <= self.max


def _score_bound(raw: bytes):
    if raw[:1] == b"(":
        return _range_double(raw[1:]), True
    return _range_double(raw), False


def parse_score_range(low: bytes, high: bytes) -> ScoreRange:
    """zslParseRange: ``1``, ``(1`` (exclusive), ``-inf``, ``+inf`` ... or
    "ERR min or max is not a float"."""
    low_value, low_ex = _score_bound(low)
    high_value, high_ex = _score_bound(high)
    return ScoreRange(low_value, high_value, low_ex, high_ex)


# -- lexicographic ranges ---------------------------------------------------------


class _LexEnd:
    """``-`` or ``+``: below or above every member."""

    __slots__ = ("sign",)

    def __init__(self, sign: str):
        self.sign = sign

    def __repr__(self):
        return "LEX_MIN" if self.sign == "-" else "LEX_MAX"


LEX_MIN = _LexEnd("-")
LEX_MAX = _LexEnd("+")


def _lex_compare(a, b) -> int:
    """sdscmplex: bytes compare as memcmp, LEX_MIN below all, LEX_MAX above."""
    if a is b:
        return 0
    if a is LEX_MIN or b is LEX_MAX:
        return -1
    if a is LEX_MAX or b is LEX_MIN:
        return 1
    return (a > b) - (a < b)


class LexRange(_Interval):
    """A member interval of ZRANGEBYLEX, ZLEXCOUNT ...: bounds are bytes or
    LEX_MIN / LEX_MAX (which are always exclusive)."""

    __slots__ = ()
    _compare = staticmethod(_lex_compare)


def _lex_bound(raw: bytes):
    """zslParseLexRangeItem.  C reads a string up to its first NUL, so ``+``
    or ``-`` followed by a NUL byte and anything counts as ``+`` or ``-``."""
    first = raw[:1]
    if first == b"(" or first == b"[":
        return raw[1:], first == b"("
    if (first == b"+" or first == b"-") and (len(raw) == 1 or raw[1] == 0):
        return (LEX_MAX if first == b"+" else LEX_MIN), True
    raise CommandError(errors.MIN_MAX_NOT_LEX)


def parse_lex_range(low: bytes, high: bytes) -> LexRange:
    """zslParseLexRange: ``[a`` (inclusive), ``(a`` (exclusive), ``-``, ``+``,
    or "ERR min or max not valid string range item"."""
    low_value, low_ex = _lex_bound(low)
    high_value, high_ex = _lex_bound(high)
    return LexRange(low_value, high_value, low_ex, high_ex)
