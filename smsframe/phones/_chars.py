"""Character flags of the fast path, per code point.

phonenumbers extracts a number from its first digit or '+' (the "start"), drops
trailing punctuation, and accepts digits, '+' at the start and the separators of its
_VALID_PUNCTUATION in between. The fast path takes the values whose number part uses
only those, after the documented steps: every whitespace kind is a space (step 1),
letters before the start or after the last digit are labels (step 5). The rest
(other characters after the start, such as '#', tildes, letters inside the number;
piece separators, which may split several numbers; characters beyond the Basic
Multilingual Plane) is declined.
"""

from __future__ import annotations

import unicodedata

import numpy as np

from smsframe.phones._digits import _PAD
from smsframe.phones._steps import _BMP, _PIECE_SEPARATORS, _WHITESPACE

_F_DIGIT, _F_PLUS, _F_OTHER, _F_BAD = 1, 2, 4, 8
_F_WHITE, _F_SEP, _F_WIDE, _F_LETTER = 16, 32, 64, 128
_SEPARATORS = (
    " -./()[]\u3000\u00a0\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"
    "\uff0d\uff0e\uff0f\u00ad\u200b\u2060\uff08\uff09\uff3b\uff3d"
)


def _char_tables() -> tuple[np.ndarray, np.ndarray]:
    """(flags, digit value or _PAD) per code point, from Python's own character
    predicates, which numpy's string functions apply to the whole BMP at once."""
    bmp = np.arange(_BMP, dtype=np.uint32).view("U1")
    decimal = np.char.isdecimal(bmp)  # Unicode's Nd: what re's \d and phonenumbers read
    flags = np.full(0x110000, _F_BAD, dtype=np.uint8)
    flags[:_BMP] = _F_OTHER
    flags[:_BMP][decimal] = _F_DIGIT | _F_WIDE
    flags[:128][decimal[:128]] = _F_DIGIT
    flags[[ord(c) for c in _SEPARATORS]] = _F_SEP
    flags[:_BMP][np.char.isalnum(bmp) & ~decimal] = _F_OTHER | _F_LETTER  # 'ー' too
    flags[[ord("+"), 0xFF0B]] = _F_PLUS  # '+' and full-width '＋'
    flags[:_BMP][_WHITESPACE] = _F_SEP  # step 1: TAB, NBSP, U+3000... are spaces
    flags[[ord(c) for c in _PIECE_SEPARATORS]] = _F_BAD  # several numbers, maybe
    flags[:_BMP][_WHITESPACE] |= _F_WHITE
    value = np.full(0x110000, _PAD, dtype=np.uint8)
    nd = np.flatnonzero(decimal).tolist()  # a few hundred
    value[nd] = [unicodedata.decimal(chr(c)) for c in nd]
    return flags, value


_FLAGS, _VALUE = _char_tables()
