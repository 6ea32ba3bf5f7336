"""Terraform's numbers: one module for parsing, arithmetic, comparison and printing.

Terraform (cty) holds a number as a Go `big.Float`: a binary mantissa of a given precision
and an exponent. Literals and numeric strings are parsed at 512 bits, every arithmetic
result is rounded (to nearest, ties to even) to 512 bits, and a number prints as the
shortest decimal that reads back as the same value at its precision (`Text('f', -1)`: no
exponent, ever). So `0.1 + 0.2 == 0.3`, `1/3` prints with 157 digits, and `1e300 * 1e300`
prints as a 1 and 600 zeros.

Here a number is one of three Python types:

- `int`: a whole number of at most 512 bits, exact (what almost every number is);
- `float`: a 53-bit number (what Go's float64 functions give, `pow(2, 0.5)`), or a fraction
  whose 512-bit value is a double and prints the same at both precisions (`0.5`, `1.25`);
- `Num`: any other number (`0.1`, `1/3`, `1e-400`, `1e600`), a `float` subclass that carries
  the exact value (`man * 2**exp`) and its precision; the float it is equal to as a `float`
  is only its nearest double, for code that needs one (`float(n)`).

Every operation takes and returns these, so the rest of the code treats numbers as
`int | float` and never sees a precision (a Num's operators are exact too). Also here:
`format()`'s %e/%f/%g on the exact value, JSON with every digit (placeholders that
orjson's and json's encoders cannot otherwise be made to write), and Go's float64 `Log`,
`Pow` and `Exp` (Terraform's log and pow). Nothing here imports anything of fgform's.
"""

from __future__ import annotations

import math
import random
import re
import sys
from decimal import Decimal
from fractions import Fraction
from typing import Any

PREC = 512          # cty's precision for parsed numbers and arithmetic results
_FLOAT_PREC = 53    # a Python float's (Go float64's)
_MAX_FLOAT = sys.float_info.max

_NUMBER_RE = re.compile(r"^([+-]?)(\d+)?(?:\.(\d*))?(?:[eE]([+-]?\d+))?\Z", re.ASCII)


class NumberError(ValueError):
    """A number cannot be parsed or computed (the message reads in a sentence)."""


class Num(float):
    """A number that is not an int of 512 bits or less nor a plain float: exactly
    `man * 2**exp` at `prec` bits. As a float it is its nearest double; arithmetic, comparison,
    hashing, `str` and `int` use the exact value."""

    __slots__ = ("man", "exp", "prec")
    man: int
    exp: int
    prec: int

    def __new__(cls, man: int, exp: int, prec: int = PREC) -> Num:
        """The number `man * 2**exp` (already rounded to `prec` bits)."""
        try:
            approx = math.ldexp(man, exp) if man.bit_length() < 1000 else \
                float(Fraction(man) * Fraction(2) ** exp)
        except OverflowError:
            approx = math.copysign(_MAX_FLOAT, man)
        if math.isinf(approx):  # a finite number stays finite when seen as a float
            approx = math.copysign(_MAX_FLOAT, man)
        self = super().__new__(cls, approx)
        self.man, self.exp, self.prec = man, exp, prec
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Num, (self.man, self.exp, self.prec))

    def __copy__(self) -> Num:
        return self

    def __deepcopy__(self, memo: Any) -> Num:
        return self

    def __repr__(self) -> str:
        return to_string(self)

    __str__ = __repr__

    def __bool__(self) -> bool:
        return self.man != 0

    def __hash__(self) -> int:
        return hash(_fraction(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return compare(self, other) == 0
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return compare(self, other) != 0
        return NotImplemented

    def __lt__(self, other: Any) -> bool:
        return compare(self, other) < 0

    def __le__(self, other: Any) -> bool:
        return compare(self, other) <= 0

    def __gt__(self, other: Any) -> bool:
        return compare(self, other) > 0

    def __ge__(self, other: Any) -> bool:
        return compare(self, other) >= 0

    def __add__(self, other: Any) -> Any:
        return add(self, other) if is_number(other) else NotImplemented

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:
        return sub(self, other) if is_number(other) else NotImplemented

    def __rsub__(self, other: Any) -> Any:
        return sub(other, self) if is_number(other) else NotImplemented

    def __mul__(self, other: Any) -> Any:
        return mul(self, other) if is_number(other) else NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Any:
        return div(self, other) if is_number(other) else NotImplemented

    def __rtruediv__(self, other: Any) -> Any:
        return div(other, self) if is_number(other) else NotImplemented

    def __neg__(self) -> Any:
        return neg(self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return neg(self) if self.man < 0 else self

    def __int__(self) -> int:
        return trunc(self)

    def __trunc__(self) -> int:
        return trunc(self)

    def __floor__(self) -> int:
        return floor(self)

    def __ceil__(self) -> int:
        return ceil(self)

    def as_integer_ratio(self) -> tuple[int, int]:
        """The exact value as (numerator, denominator), so Fraction(n) is exact."""
        f = _fraction(self)
        return f.numerator, f.denominator

    def is_integer(self) -> bool:
        """True when the exact value is whole."""
        return self.exp >= 0 or self.man % (1 << -self.exp) == 0


class NegZero(int):
    """Terraform's negative zero (`-0`, `0 * -1`, `0 / -5`): equal to 0 and usable wherever
    a whole number is (an index, `slice`), but printed "-0" by `tostring`, templates,
    `jsonencode` and `format("%v")`, as cty's big.Float keeps the sign of zero. An int (not
    a float -0.0) so that every check for a whole number takes it."""

    __slots__ = ()

    def __new__(cls) -> NegZero:
        return super().__new__(cls, 0)

    def __reduce__(self) -> tuple[Any, ...]:
        return (NegZero, ())

    def __copy__(self) -> NegZero:
        return self

    def __deepcopy__(self, memo: Any) -> NegZero:
        return self


NEG_ZERO = NegZero()


def _signbit(v: int | float) -> bool:
    """True for a negative number and for negative zero (int or float)."""
    if type(v) is NegZero:
        return True
    if isinstance(v, Num):
        return v.man < 0
    return v < 0 or (type(v) is float and v == 0 and math.copysign(1, v) < 0)


def _signed_zero(r: int | float, negative: bool) -> int | float:
    """The result `r` of a product or quotient, negative zero when it is zero and the signs
    of the operands differed (as big.Float gives it)."""
    if r == 0 and not _infinite(r):
        return NEG_ZERO if negative else 0
    return r


def is_number(v: Any) -> bool:
    """True for a number (int, float or Num), not a bool."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# -- exact parts -------------------------------------------------------------------------------

def _parts(v: int | float) -> tuple[int, int]:
    """(man, exp) with v == man * 2**exp exactly. Infinities and NaN raise NumberError."""
    if type(v) is int:
        return v, 0
    if isinstance(v, Num):
        return v.man, v.exp
    if isinstance(v, int):  # an int subclass other than bool
        return int(v), 0
    if not math.isfinite(v):
        raise NumberError("this operation is not defined for an infinite number")
    n, d = v.as_integer_ratio()
    return n, 1 - d.bit_length()


def _fraction(v: int | float) -> Fraction:
    man, exp = _parts(v)
    return Fraction(man << exp) if exp >= 0 else Fraction(man, 1 << -exp)


def _prec(v: int | float) -> int:
    if isinstance(v, Num):
        return v.prec
    if isinstance(v, float):
        return _FLOAT_PREC
    return max(PREC, abs(v).bit_length())


def _round(man: int, exp: int, prec: int, sticky: bool = False) -> tuple[int, int]:
    """`man * 2**exp` rounded to `prec` significant bits, ties to even. `sticky`: the true
    value is a little more (in magnitude) than `man * 2**exp`, below its last bit."""
    a = -man if man < 0 else man
    bl = a.bit_length()
    if bl <= prec:
        return man, exp
    shift = bl - prec
    q = a >> shift
    rem = a & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    if rem > half or (rem == half and (sticky or q & 1)):
        q += 1
    return (-q if man < 0 else q), exp + shift


# The largest and smallest magnitudes fgform handles, about 1e±300000 (Go's big.Float
# goes on to 2**±2147483647, whose digits no one prints: a billion characters).
MAX_BITS = 1_000_000


def _make(man: int, exp: int, prec: int = PREC) -> int | float:
    """The number `man * 2**exp` (already rounded to `prec` bits) in its Python form."""
    if man == 0:
        return 0
    if not -MAX_BITS < man.bit_length() + exp < MAX_BITS:
        raise NumberError("the number is out of the range fgform handles (about 1e-300000 "
                          "to 1e300000)")
    tz = (man & -man).bit_length() - 1
    if tz:
        man >>= tz
        exp += tz
    if exp >= 0:
        bits = man.bit_length() + exp
        # A whole number prints exactly when it has no more bits than its precision.
        if bits <= prec or (prec >= PREC and bits <= PREC):
            return man << exp
        if prec == _FLOAT_PREC and bits < 54:  # pragma: no cover - whole and < 2**53: ints
            return math.ldexp(man, exp)
        return Num(man, exp, prec)
    if man.bit_length() <= _FLOAT_PREC and exp >= -1074:
        # A double; kept as a plain float when it prints the same at its precision as at 53
        # bits (0.5, 1.25: few digits), which is when its exact decimal is its shortest one,
        # and Python writes it without an exponent.
        f = math.ldexp(man, exp)
        if 1e-4 <= abs(f) < 1e16 and (prec == _FLOAT_PREC or Decimal(repr(f)) == Decimal(f)):
            return f
    return Num(man, exp, prec)


def from_float(f: float) -> int | float:
    """A float from Python's math (Go's float64 functions) as a number: whole ones below
    2**53 are ints, those Python writes without an exponent stay floats (53-bit numbers), the
    rest are 53-bit Nums (so that no plain float is ever written `1e-07`). Infinities and NaN
    as they are."""
    if type(f) is not float or not math.isfinite(f):
        return f
    if f.is_integer() and abs(f) < 2**53:
        return NEG_ZERO if f == 0 and math.copysign(1, f) < 0 else int(f)
    if 1e-4 <= abs(f) < 1e16:
        return f
    man, exp = _parts(f)
    return Num(man, exp, _FLOAT_PREC)


def normalize(v: int | float) -> int | float:
    """A number in its canonical Python form (plain floats that are whole below 2**53 become
    ints; Nums as they are)."""
    if type(v) is float:
        return from_float(v)
    return v


# -- parsing -----------------------------------------------------------------------------------

_POW5 = [5 ** i for i in range(28)]


def _pow5(n: int, prec: int) -> tuple[int, int]:
    """5**n as Go's big.Float.pow5 computes it at `prec` bits (rounded along the way)."""
    if n <= 27:
        return _POW5[n], 0
    zm, ze = _POW5[27], 0
    n -= 27
    fm, fe = 5, 0
    fprec = prec + 64
    while n > 0:
        if n & 1:
            zm, ze = _round(zm * fm, ze + fe, prec)
        fm, fe = _round(fm * fm, fe + fe, fprec)
        n >>= 1
    return zm, ze


def _quo(am: int, ae: int, bm: int, be: int, prec: int) -> tuple[int, int]:
    """(am*2**ae) / (bm*2**be) rounded to `prec` bits (bm != 0)."""
    neg = (am < 0) != (bm < 0)
    a, b = abs(am), abs(bm)
    if a == 0:
        return 0, 0
    s = max(0, prec + 2 + b.bit_length() - a.bit_length())
    q, r = divmod(a << s, b)
    m, e = _round(q, ae - be - s, prec, sticky=r != 0)
    return (-m if neg else m), e


def parse(text: str) -> int | float | None:
    """A decimal number's text (`12`, `-0.5`, `1e-7`, `.5`) as Terraform reads it (512 bits,
    as Go's big.ParseFloat); None when it is not one."""
    if len(text) < 150 and text.isdigit() and text.isascii():  # most literals: 80, 3
        return int(text)
    m = _NUMBER_RE.match(text)
    if m is None:
        return None
    sign, whole, frac, expo = m.groups()
    if whole is None and not frac:
        return None
    if len(text) > 4000:
        raise NumberError("a number of more than 4000 characters is more than fgform reads")
    neg_ = sign == "-"
    if frac is None and expo is None:
        n = int(whole)
        if n.bit_length() <= PREC:
            return (-n if n else NEG_ZERO) if neg_ else n
    digits = (whole or "") + (frac or "")
    if len(expo or "") > 7 and int(expo) != 0:
        raise NumberError(f"the exponent of {text} is out of the range fgform handles "
                          "(about 1e-300000 to 1e300000)")
    exp10 = int(expo or 0) - len(frac or "")
    man = int(digits)
    if man == 0:
        return NEG_ZERO if neg_ else 0
    if neg_:
        man = -man
    if exp10 == 0:
        return _make(*_round(man, 0, PREC))
    # As big.Float's scan: the digits times 2**exp10 and 5**exp10, 5**|exp10| at 576 bits.
    pm, pe = _pow5(abs(exp10), PREC + 64)
    if exp10 > 0:
        rm, re_ = _round(man * pm, pe + exp10, PREC)
    else:
        rm, re_ = _quo(man, exp10, pm, pe, PREC)
    return _make(rm, re_)


def parse_json_float(text: str) -> int | float:
    """`json.loads`'s parse_float: a JSON number with a fraction or exponent, at 512 bits."""
    v = parse(text)
    if v is None:
        raise NumberError(f"{text} is not a number")
    return v


# -- arithmetic --------------------------------------------------------------------------------

def add(a: int | float, b: int | float) -> int | float:
    """a + b at 512 bits."""
    if type(a) is NegZero and type(b) is NegZero:
        return a
    if type(a) is int and type(b) is int:
        r = a + b
        return r if -_LIMIT < r < _LIMIT else _make(*_round(r, 0, PREC))
    if _infinite(a) or _infinite(b):
        return float(a) + float(b)
    am, ae = _parts(a)
    bm, be = _parts(b)
    e = min(ae, be)
    return _make(*_round((am << (ae - e)) + (bm << (be - e)), e, PREC))


def sub(a: int | float, b: int | float) -> int | float:
    """a - b at 512 bits."""
    return add(a, neg(b))


def neg(a: int | float) -> int | float:
    """-a; the negation of zero is negative zero (NEG_ZERO) and the other way round."""
    if isinstance(a, Num):
        return Num(-a.man, a.exp, a.prec)
    if a == 0 and not isinstance(a, bool):
        return 0 if _signbit(a) else NEG_ZERO
    return -a



def mul(a: int | float, b: int | float) -> int | float:
    """a * b at 512 bits."""
    if type(a) is int and type(b) is int:
        r = a * b
        if r == 0:
            return _signed_zero(r, (a < 0) != (b < 0))
        return r if -_LIMIT < r < _LIMIT else _make(*_round(r, 0, PREC))
    if _infinite(a) or _infinite(b):
        return float(a) * float(b)
    am, ae = _parts(a)
    bm, be = _parts(b)
    return _signed_zero(_make(*_round(am * bm, ae + be, PREC)), _signbit(a) != _signbit(b))


def div(a: int | float, b: int | float) -> int | float:
    """a / b at 512 bits; b must not be zero (the caller reports that)."""
    if b == 0:
        raise ZeroDivisionError("division by zero")
    if a == 0 and not _infinite(b):
        return _signed_zero(0, _signbit(a) != _signbit(b))
    if type(a) is int and type(b) is int and a % b == 0:
        return a // b
    if _infinite(a) or _infinite(b):
        return float(a) / float(b)
    am, ae = _parts(a)
    bm, be = _parts(b)
    return _make(*_quo(am, ae, bm, be, PREC))


def mod(a: int | float, b: int | float) -> int | float:
    """a % b as cty computes it: a - b * trunc(a / b), the sign of a; `a % 0` is a."""
    if b == 0 or type(a) is NegZero:
        return a
    if type(a) is int and type(b) is int:
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    q = trunc(div(a, b))
    # cty: a - b * q, each step rounded to 512 bits.
    return sub(a, mul(b, q))


def _infinite(v: int | float) -> bool:
    return type(v) is float and not math.isfinite(v)


_LIMIT = 1 << PREC


def compare(a: int | float, b: int | float) -> int:
    """-1, 0 or 1 as a < b, a == b, a > b (exactly)."""
    if not isinstance(a, Num) and not isinstance(b, Num):
        return (a > b) - (a < b)
    if _infinite(a) or _infinite(b):
        fa, fb = float(a), float(b)
        return (fa > fb) - (fa < fb)
    x, y = _fraction(a), _fraction(b)
    return (x > y) - (x < y)


def equal(a: int | float, b: int | float) -> bool:
    """cty's number equality: equal when they print the same (so 1.4142135623730951 written
    out equals pow(2, 0.5), whose exact values differ)."""
    if type(a) is int and type(b) is int:
        return a == b
    if a == b:
        return True
    if _infinite(a) or _infinite(b):
        return False
    return to_string(a) == to_string(b)


def trunc(v: int | float) -> int:
    """v rounded toward zero, as an int."""
    if type(v) is int:
        return v
    m, e = _parts(v)
    if e >= 0:
        return m << e
    q = abs(m) >> -e
    return -q if m < 0 else q


def floor(v: int | float) -> int | float:
    """The largest whole number <= v (exactly)."""
    if type(v) is int or _infinite(v):
        return v
    m, e = _parts(v)
    return _make(*_round((m << e) if e >= 0 else m >> -e, 0, _prec(v)), prec=_prec(v))


def ceil(v: int | float) -> int | float:
    """The smallest whole number >= v (exactly)."""
    if type(v) is int or _infinite(v):
        return v
    r = neg(floor(neg(v)))
    return 0 if r == 0 else r  # Go's big.Float ceil(-0.5) is 0, not -0


def to_float(v: int | float) -> float:
    """The nearest double, for what needs a Python float (math functions)."""
    if type(v) is NegZero:
        return -0.0
    try:
        return float(v)
    except OverflowError:
        return math.copysign(math.inf, v)


def to_int64(v: int | float) -> int | None:
    """v as a whole number between -2**63 and 2**63-1, or None."""
    if isinstance(v, int):  # NegZero too
        v = int(v)
    else:
        if _infinite(v) or not v.is_integer():
            return None
        v = trunc(v)
    return v if -(1 << 63) <= v < (1 << 63) else None


# -- printing ----------------------------------------------------------------------------------

def _decimal(man: int, exp: int, ndigits: int) -> tuple[str, int, bool]:
    """The decimal digits of man * 2**exp (man > 0): (digits without trailing zeros, the
    decimal exponent (value = 0.digits * 10**dexp), whether more nonzero digits follow the
    first `ndigits` given)."""
    # Estimate the decimal exponent, then take ndigits + a few digits by integer division.
    bits = man.bit_length() + exp
    est = int(bits * 0.30102999566398120) + 1
    j = ndigits + 4 - est          # scale by 10**j
    if exp >= 0:
        num = man << exp
        den = 1
    else:
        num = man
        den = 1 << -exp
    if j >= 0:
        num *= 10 ** j
    else:
        den *= 10 ** -j
    q, r = divmod(num, den)
    s = str(q)
    sticky = r != 0
    dexp = len(s) - j
    if len(s) > ndigits + 8:
        cut = len(s) - (ndigits + 8)
        sticky = sticky or s[-cut:].strip("0") != ""
        s = s[:-cut]
    if not sticky:
        s = s.rstrip("0")
    return s, dexp, sticky


class _Dec:
    """A decimal as Go's big `decimal`: digits, exponent, and (here) whether it goes on past
    the digits held."""
    __slots__ = ("d", "exp", "more")

    def __init__(self, d: str, exp: int, more: bool) -> None:
        self.d, self.exp, self.more = d, exp, more

    def at(self, i: int) -> str:
        return self.d[i] if i < len(self.d) else "0"

    def length_is(self, n: int) -> bool:
        return not self.more and len(self.d) == n

    def longer_than(self, n: int) -> bool:
        return self.more or len(self.d) > n


def _round_up(d: _Dec, n: int) -> tuple[str, int]:
    """Go's decimal.roundUp(n) (nothing to do when the digits end before n)."""
    if n >= len(d.d) and not d.more:
        return d.d, d.exp
    exp = d.exp
    digits = list(d.d[:n])
    i = n - 1
    while i >= 0 and digits[i] == "9":
        i -= 1
    if i < 0:
        return "1", exp + 1
    digits[i] = chr(ord(digits[i]) + 1)
    return "".join(digits[:i + 1]), exp


def _shortest(man: int, exp: int, prec: int) -> tuple[str, int]:
    """Go's roundShortest: the fewest decimal digits that read back (at `prec` bits) as the
    positive number man * 2**exp. Returns (digits, exponent: value = 0.digits * 10**exp)."""
    nd = int(prec * 0.30103) + 30
    dd, de, dmore = _decimal(man, exp, nd)
    d = _Dec(dd, de, dmore)
    # The mantissa with prec + 1 bits, its last bit half an ulp.
    s = man.bit_length() - (prec + 1)
    m2, e2 = (man << -s, exp + s) if s < 0 else (man >> s, exp + s)
    lower = _Dec(*_decimal(m2 - 1, e2, nd))
    upper = _Dec(*_decimal(m2 + 1, e2, nd))
    inclusive = m2 & 2 == 0
    for i in range(len(d.d)):
        m = d.d[i]
        lo, up = lower.at(i), upper.at(i)
        okdown = lo != m or (inclusive and lower.length_is(i + 1))
        okup = m != up and (inclusive or ord(m) + 1 < ord(up) or upper.longer_than(i + 1))
        n = i + 1
        if okdown and okup:
            # Round half to even on the exact digits.
            if n < len(d.d) or d.more:
                nxt = d.at(n)
                if nxt == "5" and not d.more and n + 1 == len(d.d):
                    up_ = int(d.d[n - 1]) & 1 == 1
                else:
                    up_ = nxt >= "5"
                return _round_up(d, n) if up_ else (d.d[:n].rstrip("0"), d.exp)
            return d.d, d.exp
        if okdown:
            return d.d[:n].rstrip("0") or "0", d.exp
        if okup:
            return _round_up(d, n)
    return d.d, d.exp


def to_string(v: int | float) -> str:
    """A number as Terraform prints it: the shortest decimal that reads back as the same
    number at its precision, never with an exponent (`0.0000001`, `1` and 600 zeros)."""
    if type(v) is int:
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return "-0" if type(v) is NegZero else str(int(v))
    if isinstance(v, Num):
        man, exp, prec = v.man, v.exp, v.prec
    else:
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "+Inf" if v > 0 else "-Inf"
        if v == 0:
            return "-0" if math.copysign(1, v) < 0 else "0"
        if v.is_integer() and abs(v) < 2**53:
            return str(int(v))
        man, exp = _parts(v)
        prec = _FLOAT_PREC
        if abs(v) < 1e16 and abs(v) > 1e-5:
            # repr is the shortest that reads back as this double: the same digits as Go's
            # (Go's differ only next to a power of two, outside this fast path's checks).
            r = repr(v)
            a = abs(man)
            if "e" not in r and a & (a - 1):
                return r
    if man == 0:
        return "0"
    sign = "-" if man < 0 else ""
    digits, dexp = _shortest(abs(man), exp, prec)
    if dexp > 0:
        whole = digits[:dexp] + "0" * max(0, dexp - len(digits))
        frac = digits[dexp:]
    else:
        whole = "0"
        frac = "0" * -dexp + digits
    return sign + whole + ("." + frac if frac else "")


# -- JSON --------------------------------------------------------------------------------------

# A number the JSON encoders cannot write exactly (a Num, or any non-whole number when
# spelled as Terraform spells it) goes in as this placeholder string and is swapped for its
# digits afterwards. The nonce keeps a user's string from ever looking like one.
_NONCE = f"{random.SystemRandom().getrandbits(64):016x}"
_TOKEN = f"@fgnum-{_NONCE}-"
_TOKEN_RE = re.compile(rf'"{_TOKEN}(\d+)"')
_TOKEN_RE_B = re.compile(rf'"{_TOKEN}(\d+)"'.encode())


def json_placeholder(v: float, texts: list[str], reread: bool = False) -> str:
    """The placeholder string for `v` (its digits appended to `texts`), for an encoder's
    `default` hook or a walk; `json_finish` puts the digits in.

    `reread`: for fgform's own files, read back by `parse_json_float`. A whole number of more
    than 154 digits (more than 512 bits: 1e300 * 1e300) is then written with an exponent
    (`1e600`), which JSON reads as a float, so it reads back at 512 bits as written."""
    if not math.isfinite(v):
        raise NumberError(f"cannot write {to_string(v)} as a JSON number")
    text = to_string(v)
    if reread and len(text) > 155 and "." not in text:
        digits = text.rstrip("0")
        text = f"{digits}e{len(text) - len(digits)}"
    texts.append(text)
    return f"{_TOKEN}{len(texts) - 1}"


def json_ready(value: Any, texts: list[str], all_floats: bool = True,
               reread: bool = False) -> Any:
    """`value` with its non-whole numbers (all floats, or only Nums) replaced by
    placeholders, for `json.dumps`; then `json_finish`. `reread` as for json_placeholder."""
    if type(value) is NegZero:
        return json_placeholder(value, texts, reread)
    if isinstance(value, float):
        if isinstance(value, Num) or all_floats:
            return json_placeholder(value, texts, reread)
        return value
    if isinstance(value, dict):
        return {k: json_ready(v, texts, all_floats, reread) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v, texts, all_floats, reread) for v in value]
    return value


def json_finish(text: Any, texts: list[str]) -> Any:
    """JSON text (str or bytes) with the placeholders `json_ready` made replaced by digits."""
    if not texts:
        return text
    if isinstance(text, bytes):
        return _TOKEN_RE_B.sub(lambda m: texts[int(m.group(1))].encode(), text)
    return _TOKEN_RE.sub(lambda m: texts[int(m.group(1))], text)


def dumps_json(value: Any, **kwargs: Any) -> str:
    """`json.dumps(value, **kwargs)` with every non-whole number written as Terraform writes
    it (`0.0000001`, all 157 digits of 1/3).

    Most values hold no such number, and those that do hold a Num (plain floats are the ones
    json writes as Terraform does: no exponent, `from_float`), which marshal (C, fast)
    refuses: only then is the value walked."""
    import json
    import marshal
    try:
        marshal.dumps(value)
    except (ValueError, TypeError):
        pass
    else:
        return json.dumps(value, **kwargs)
    texts: list[str] = []
    try:
        ready = json_ready(value, texts)
    except RecursionError:  # nested deeper than a walk goes: json's encoder goes deeper
        return json.dumps(value, **kwargs)
    return json_finish(json.dumps(ready, **kwargs), texts)


# -- format() verbs ----------------------------------------------------------------------------

def _round_dec(d: _Dec, n: int) -> _Dec:
    """Go's decimal.round(n): to n digits, ties to even on the exact digits."""
    if n < 0 or (n >= len(d.d) and not d.more):
        return d
    nxt = d.at(n)
    if nxt == "5" and not d.more and n + 1 == len(d.d):
        up = n > 0 and int(d.d[n - 1]) & 1 == 1
    else:
        up = nxt >= "5"
    if up:
        if n == 0:
            return _Dec("1", d.exp + 1, False)
        digits, exp = _round_up(_Dec(d.d, d.exp, True), n)
        return _Dec(digits, exp, False)
    digits = d.d[:n].rstrip("0")
    return _Dec(digits, d.exp if digits else 0, False)


def _fmt_f(d: _Dec, prec: int) -> str:
    whole = (d.d[:d.exp] + "0" * max(0, d.exp - len(d.d))) if d.exp > 0 else "0"
    frac = "".join(d.at(d.exp + i) if d.exp + i >= 0 else "0" for i in range(prec))
    return whole + ("." + frac if prec > 0 else "")


def _fmt_e(d: _Dec, prec: int, letter: str) -> str:
    first = d.d[0] if d.d else "0"
    out = first
    if prec > 0:
        out += "." + "".join(d.at(i) for i in range(1, prec + 1))
    exp = d.exp - 1 if d.d else 0
    sign = "-" if exp < 0 else "+"
    return f"{out}{letter}{sign}{abs(exp):02d}"


def format_verb(v: int | float, verb: str, prec: int | None) -> str:
    """`v` under a %e, %f or %g verb (no flags or width) as Terraform's format() writes it:
    Go's big.Float formatting of the exact value (%f and %e 6 digits by default, %g the
    shortest digits)."""
    if _infinite(v) or (isinstance(v, float) and math.isnan(v)):
        return to_string(v)
    lower = verb.lower()
    neg_ = _signbit(v)
    man, exp = _parts(v)
    man = abs(man)
    if prec is None and lower == "g":
        if man == 0:
            d = _Dec("", 0, False)
        else:
            digits, dexp = _shortest(man, exp, _prec(v))
            d = _Dec(digits, dexp, False)
        p = len(d.d)
        eprec = 6
        e = d.exp - 1
        if man and (e < -4 or e >= eprec):
            text = _fmt_e(d, p - 1, "e" if verb == "g" else "E")
        else:
            text = _fmt_f(d, max(p - d.exp, 0))
        return ("-" if neg_ else "") + text
    if prec is None:
        prec = 6
    if man == 0:
        d = _Dec("", 0, False)
    else:
        est = int((man.bit_length() + exp) * 0.30102999566398120) + 1
        want = {"e": prec + 1, "f": est + prec, "g": max(prec, 1)}[lower]
        d = _Dec(*_decimal(man, exp, max(want, 1) + 4))
    if lower == "e":
        text = _fmt_e(_round_dec(d, prec + 1), prec, verb)
    elif lower == "f":
        text = _fmt_f(_round_dec(d, d.exp + prec), prec)
    else:
        p = prec or 1
        d = _round_dec(d, p)
        eprec = p
        if eprec > len(d.d) and len(d.d) >= d.exp:
            eprec = len(d.d)
        e = d.exp - 1
        if d.d and (e < -4 or e >= eprec):
            text = _fmt_e(d, min(p, len(d.d)) - 1, "e" if verb == "g" else "E")
        else:
            text = _fmt_f(d, max((len(d.d) if p > d.exp else p) - d.exp, 0))
    return ("-" if neg_ else "") + text


# -- Go's float64 math (Terraform's log and pow) -----------------------------------------------
# Terraform's log and pow compute with Go's math package, whose last bit differs from C's
# libm now and then (log(3, 7) is 0.5645750340535796 in Go, ...97 in libm); these are its
# algorithms, operation for operation: Log and Pow as Go writes them (FreeBSD's), Exp as
# amd64's assembly computes it.

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_L1, _L2, _L3, _L4, _L5, _L6, _L7 = (
    6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
    2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
    1.479819860511658591e-01)
_SQRT2_HALF = 0.7071067811865476


def go_log(x: float) -> float:
    """Go's math.Log(x)."""
    if math.isnan(x) or x == math.inf:
        return x
    if x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    f1, ki = math.frexp(x)
    if f1 < _SQRT2_HALF:
        f1 *= 2
        ki -= 1
    f = f1 - 1
    k = float(ki)
    s = f / (2 + f)
    s2 = s * s
    s4 = s2 * s2
    t1 = s2 * (_L1 + s4 * (_L3 + s4 * (_L5 + s4 * _L7)))
    t2 = s4 * (_L2 + s4 * (_L4 + s4 * _L6))
    r = t1 + t2
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)


def _ldexp(frac: float, exp: int) -> float:
    try:
        return math.ldexp(frac, exp)
    except OverflowError:
        return math.copysign(math.inf, frac)


def go_pow(x: float, y: float) -> float:
    """Go's math.Pow(x, y): x**y by repeated squaring for the whole part of y, the fraction
    by Exp(yf * Log(x))."""
    if y == 0 or x == 1:
        return 1.0
    if y == 1:
        return x
    if math.isnan(x) or math.isnan(y):
        return math.nan
    if x == 0:
        if y < 0:
            if math.copysign(1, x) < 0 and _odd_int(y):
                return -math.inf
            return math.inf
        if y > 0:
            return x if _odd_int(y) else 0.0
    if math.isinf(y):
        if x == -1:
            return 1.0
        if (abs(x) < 1) == (y > 0):
            return 0.0
        return math.inf
    if math.isinf(x):
        if x < 0:
            return go_pow(1 / x, -y)  # Pow(-0, -y)
        return 0.0 if y < 0 else math.inf
    if y == 0.5:
        return math.sqrt(x)
    if y == -0.5:
        return 1 / math.sqrt(x)
    yf, yi = math.modf(abs(y))
    if yf != 0 and x < 0:
        return math.nan
    if yi >= 2.0 ** 63:
        # A huge even whole power: overflow or underflow, except for -1.
        if x == -1:
            return 1.0
        if (abs(x) < 1) == (y > 0):
            return 0.0
        return math.inf
    a1 = 1.0
    ae = 0
    if yf != 0:
        if yf > 0.5:
            yf -= 1
            yi += 1
        a1 = go_exp(yf * go_log(x))
    x1, xe = math.frexp(x)
    i = int(yi)
    while i != 0:
        if xe < -(1 << 12) or (1 << 12) < xe:
            ae += xe
            break
        if i & 1 == 1:
            a1 *= x1
            ae += xe
        x1 *= x1
        xe <<= 1
        if x1 < 0.5:
            x1 += x1
            xe -= 1
        i >>= 1
    if y < 0:
        a1 = 1 / a1
        ae = -ae
    return _ldexp(a1, ae)


def _odd_int(y: float) -> bool:
    yf, yi = math.modf(y)
    return yf == 0 and abs(yi) < 2.0 ** 53 and int(yi) & 1 == 1


_LOG2E = 1.4426950408889634073599246810018920
_LN2U = 0.69314718055966295651160180568695068359375
_LN2L = 0.28235290563031577122588448175013436025525412068e-12
# Taylor coefficients of e**x - 1, highest first (1/8!, ..., 1/3!), then 1/2 and 1.
_EXP_SERIES = (1.9841269841269841270e-4, 1.3888888888888888889e-3, 8.3333333333333333333e-3,
               4.1666666666666666667e-2, 1.6666666666666666667e-1, 0.5, 1.0)


def _fma(a: float, b: float, c: float) -> float:
    """a * b + c rounded once (the FMA instruction; Python 3.11 has no math.fma)."""
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def go_exp(x: float) -> float:
    """Go's math.Exp(x) as it runs on amd64 with FMA (Terraform's release builds on any
    x86-64 of the last decade): Shibata's method, exp_amd64.s step for step."""
    if math.isnan(x) or x == math.inf:
        return x
    if x == -math.inf:
        return 0.0
    if x > 7.09782712893384e+02:
        return math.inf
    k = round(_LOG2E * x)  # CVTSD2SL: to nearest, ties to even
    fk = float(k)
    r = _fma(-_LN2U, fk, x)
    r = _fma(-_LN2L, fk, r)
    r *= 0.0625
    p = 2.4801587301587301587e-5
    for c in _EXP_SERIES:
        p = _fma(p, r, c)
    r = r * p  # e**(x/16) - 1, then squared up four times: e**x - 1
    for _ in range(3):
        r = r * (r + 2.0)
    r = _fma(r, r + 2.0, 1.0)
    biased = k + 0x3FF
    if biased <= 0:
        return 0.0
    if biased >= 0x7FF:
        return math.inf
    return r * math.ldexp(1.0, k)
