"""phonenumbers' metadata patterns compiled to digit automata: the only module that
reads ``re._parser``.

Why not RE2 (pyarrow.compute), which compiles the same patterns unchanged: a region's
type patterns (mobile, fixed line, toll free...) are one product automaton here, so one
pass over the digits types every number. RE2 needs a pass per pattern, over strings.
bench/bench_number_types.py measures both on the same numbers (they agree on every one):
the automaton takes 6-12x less time (CN, US, GB, DE, IN)."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from typing import Final, final

import numpy as np
import pandas as pd

from smsframe.phones._digits import _NSYM, _PAD, _Digits

# phonenumbers' patterns are regular expressions over digits. Each one used by
# parse/validation is compiled here into a deterministic automaton over the
# symbols 0-9 plus _PAD ("past the end of the number", which keeps the state),
# run column by column over a whole array of numbers at once.


class _Unsupported(Exception):
    """A metadata pattern uses syntax the automata do not model (fast path declines)."""


def _sre():
    try:
        import re._constants as constants
        import re._parser as parser
    except ImportError:  # pragma: no cover - Python without the re package internals
        raise _Unsupported("re internals unavailable") from None
    return parser, constants


def _digit_mask(items, c) -> int:
    mask, negate = 0, False
    digits_in = {
        c.CATEGORY_DIGIT: True,
        c.CATEGORY_WORD: True,
        c.CATEGORY_NOT_SPACE: True,
        c.CATEGORY_NOT_LINEBREAK: True,
        c.CATEGORY_NOT_DIGIT: False,
        c.CATEGORY_NOT_WORD: False,
        c.CATEGORY_SPACE: False,
        c.CATEGORY_LINEBREAK: False,
    }
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            if 48 <= av <= 57:
                mask |= 1 << (av - 48)
        elif op is c.RANGE:
            for code in range(max(av[0], 48), min(av[1], 57) + 1):
                mask |= 1 << (code - 48)
        elif op is c.CATEGORY and av in digits_in:
            mask |= 0x3FF if digits_in[av] else 0
        else:
            raise _Unsupported(f"character set item {op}")
    return (0x3FF & ~mask) if negate else mask


class _Nfa:
    """Thompson construction over digit masks (10-bit sets). With ``loose``, anchors
    (``^``, ``$``) are ignored: the language can only grow (used as a pre-filter)."""

    def __init__(self, loose: bool = False) -> None:
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[int, int]]] = []
        self.loose = loose
        self.anchored = False

    def state(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def edge(self, src: int, mask: int) -> int:
        dst = self.state()
        self.edges[src].append((mask, dst))
        return dst

    def seq(self, src: int, items, c) -> int:
        for op, av in items:
            src = self.item(src, op, av, c)
        return src

    def item(self, src: int, op, av, c) -> int:
        if op is c.LITERAL:
            return self.edge(src, (1 << (av - 48)) if 48 <= av <= 57 else 0)
        if op is c.NOT_LITERAL:
            return self.edge(src, 0x3FF & ~((1 << (av - 48)) if 48 <= av <= 57 else 0))
        if op is c.IN:
            return self.edge(src, _digit_mask(av, c))
        if op is c.ANY:
            return self.edge(src, 0x3FF)
        if op is c.SUBPATTERN:
            return self.seq(src, av[3], c)
        if op is c.BRANCH:
            end = self.state()
            for alternative in av[1]:
                self.eps[self.seq(src, alternative, c)].append(end)
            return end
        if op is c.MAX_REPEAT or op is c.MIN_REPEAT:
            low, high, body = av
            for _ in range(low):
                src = self.seq(src, body, c)
            if high is c.MAXREPEAT:
                loop = self.state()
                self.eps[src].append(loop)
                self.eps[self.seq(loop, body, c)].append(loop)
                return loop
            ends = [src]
            for _ in range(high - low):
                src = self.seq(src, body, c)
                ends.append(src)
            end = self.state()
            for e in ends:
                self.eps[e].append(end)
            return end
        if op is c.AT and self.loose and av in (c.AT_BEGINNING, c.AT_END):
            self.anchored = True
            return src
        raise _Unsupported(f"regex construct {op}")


class _Dfa:
    """A digit automaton. ``accept[s]`` is a bit mask: bit i set when pattern i matches
    the digits read so far in full."""

    def __init__(self, patterns: Sequence[str | None], loose: bool = False) -> None:
        parser, c = _sre()
        nfa = _Nfa(loose)
        starts, finals = [], {}
        for i, pattern in enumerate(patterns):
            if not pattern:
                continue
            start = nfa.state()
            end = nfa.seq(start, parser.parse(pattern), c)
            starts.append(start)
            finals[end] = finals.get(end, 0) | (1 << i)

        def closure(states):
            seen, stack = set(states), list(states)
            while stack:
                for nxt in nfa.eps[stack.pop()]:
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            return frozenset(seen)

        first = closure(starts)
        ids, order, rows = {first: 0}, [first], []
        while len(rows) < len(order):
            current = order[len(rows)]
            row = []
            for digit in range(10):
                bit = 1 << digit
                moved = [dst for s in current for mask, dst in nfa.edges[s] if mask & bit]
                nxt = closure(moved)
                if nxt not in ids:
                    ids[nxt] = len(order)
                    order.append(nxt)
                row.append(ids[nxt])
            rows.append(row)
            if len(order) > 200_000:
                raise _Unsupported("automaton too large")
        self.anchored = nfa.anchored
        accept = [0] * len(order)
        for i, states in enumerate(order):
            for s in states:
                accept[i] |= finals.get(s, 0)
        table = np.empty((len(order), _NSYM), dtype=np.int32)
        table[:, :10] = rows
        table[:, _PAD] = np.arange(len(order))
        self.table = table
        self.flat = table.ravel()
        self.accept = np.array(accept, dtype=np.int64)
        # live[s]: some accepting state is reachable from s
        live = self.accept != 0
        while True:
            grown = live | live[table[:, :10]].any(axis=1)
            if (grown == live).all():
                break
            live = grown
        self.live = live

    def run(self, digits: _Digits, rows: np.ndarray, off: np.ndarray, width: int) -> np.ndarray:
        """Final states after reading each row's digits from ``off`` to its end."""
        state = np.zeros(len(rows), dtype=np.int32)
        for at, window in digits.windows(rows, off):
            s = np.zeros(len(at), dtype=np.int32)
            for j in range(min(width, len(window))):
                s = self.flat.take(s * _NSYM + window[j])
            state[at] = s
        return state

    @functools.cached_property
    def _three(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first three symbols at once: for each triple, the end of a match within
        it (-1: none), whether reading must go on, and the state then."""
        end = np.full(_NSYM**3, -1, dtype=np.int64)
        more = np.zeros(_NSYM**3, dtype=bool)
        state = np.zeros(_NSYM**3, dtype=np.int32)
        for code, symbols in enumerate(itertools.product(range(_NSYM), repeat=3)):
            s = 0
            for i, symbol in enumerate(symbols):
                if symbol == _PAD or not self.live[s]:
                    break
                s = self.table[s, symbol]
                if self.accept[s]:
                    end[code] = i + 1
                    break
            else:
                more[code], state[code] = bool(self.live[s]), s
        return end, more, state

    def _first_end(self, digits: _Digits, rows: np.ndarray, off: np.ndarray) -> np.ndarray:
        """Length of the shortest non-empty match at ``off`` (-1: none)."""
        end3, more3, state3 = self._three
        code = digits.column(rows, off).astype(np.int32)
        for j in (1, 2):
            code = code * _NSYM + digits.column(rows, off + j)
        end = end3[code]
        todo = np.flatnonzero(more3[code])
        state = state3[code[todo]]
        off = np.broadcast_to(off, rows.shape)
        j = 3
        while todo.size and j <= digits.width:
            sym = digits.column(rows[todo], off[todo] + j)
            state = self.flat.take(state * _NSYM + sym)
            hit = (self.accept[state] != 0) & (sym != _PAD)
            end[todo[hit]] = j + 1
            keep = self.live[state] & ~hit & (sym != _PAD)
            todo, state = todo[keep], state[keep]
            j += 1
        return end

    def first_match(self, digits: _Digits, rows: np.ndarray, off: np.ndarray) -> np.ndarray:
        """Length of the (unique, the language being prefix-free) match at ``off``, or -1:
        what ``re.match(pattern, number[off:])`` consumes."""
        return self._first_end(digits, rows, off)

    def prefix_free(self) -> bool:
        """No match is a proper prefix of another (and the empty string is no match)."""
        if self.accept[0]:
            return False
        accepting = np.flatnonzero(self.accept)
        return not self.live[self.table[accepting, :10]].any()

    def has_prefix(self, digits: _Digits, rows: np.ndarray, off: np.ndarray) -> np.ndarray:
        """Whether ``re.match(pattern, number[off:])`` finds anything."""
        if self.accept[0]:
            return np.ones(len(rows), dtype=bool)
        return self._first_end(digits, rows, off) >= 0


class _Prefix:
    """``re.match(pattern, number[off:])`` replayed on arrays of numbers.

    When the pattern's matches are prefix-free and it has no anchor or transform rule,
    its automaton gives the match directly. Otherwise the automaton (anchors ignored)
    only tells which numbers may match, and ``re`` itself is run once per distinct
    run of leading digits (the pattern cannot look further than its longest match).
    """

    def __init__(self, pattern: str, transform: str | None = None) -> None:
        parser, _ = _sre()
        width = parser.parse(pattern).getwidth()[1]
        if width > 15:
            raise _Unsupported("pattern may match too many digits")
        self.regex = re.compile(pattern)
        self.transform = transform or None
        self.width = width
        self.dfa = _Dfa([pattern], loose=True)
        self.exact = not self.dfa.anchored and not self.transform and self.dfa.prefix_free()

    def match(self, digits: _Digits, rows, off, length):
        """Per number: the length of the match (-1: none), how many leading digits the
        national prefix rules remove (differs from the match with a transform rule),
        and whether the fast path must leave the number to phonenumbers."""
        end = np.full(len(rows), -1, dtype=np.int64)
        drop = np.zeros(len(rows), dtype=bool)
        if self.exact:
            end = self.dfa.first_match(digits, rows, off)
            return end, end.copy(), drop
        strip = end.copy()
        cand = np.flatnonzero(self.dfa.has_prefix(digits, rows, off))
        if cand.size == 0:
            return end, strip, drop
        size = np.minimum(length[cand], self.width + 1)
        start = off[cand] if np.ndim(off) else np.full(len(cand), off)
        keys = size * 10**17 + digits.values(rows[cand], start, size)
        which, uniques = pd.factorize(keys)
        found = np.array([self._one(int(k)) for k in uniques], dtype=np.int64).reshape(-1, 3)
        end[cand], strip[cand], drop[cand] = found[which, 0], found[which, 1], found[which, 2]
        return end, strip, drop

    def _one(self, key: int) -> tuple[int, int, int]:
        size, value = divmod(key, 10**17)
        text = str(value).zfill(size) if size else ""
        found = self.regex.match(text)
        if found is None:
            return -1, -1, 0
        if self.transform is None:
            return found.end(), found.end(), 0
        groups = found.groups()
        if not groups:
            return -1, -1, 1
        if groups[-1] is None:
            return found.end(), found.end(), 0
        changed = self.regex.sub(self.transform, text, count=1)
        cut = len(text) - len(changed)
        if cut < 0 or text[cut:] != changed:  # not just removing digits: phonenumbers
            return -1, -1, 1
        return found.end(), cut, 0

    def exists(self, digits: _Digits, rows, off, length):
        """Whether ``re.match`` finds anything (a match may be empty)."""
        if not self.dfa.anchored:
            return self.dfa.has_prefix(digits, rows, off)
        end, _, _ = self.match(digits, rows, off, length)
        return end >= 0


@final
class _Declined:
    """The type of :data:`UNSUPPORTED`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSUPPORTED"


#: What a pattern the automata do not model compiles to: its numbers go to phonenumbers.
UNSUPPORTED: Final = _Declined()


def _prefix(pattern: str | None, transform: str | None = None) -> _Prefix | _Declined | None:
    """A :class:`_Prefix`; None when there is no pattern, :data:`UNSUPPORTED` when the
    automata do not model it."""
    if not pattern:
        return None
    try:
        return _Prefix(pattern, transform)
    except Exception:  # _Unsupported, or anything unexpected: leave it to phonenumbers
        return UNSUPPORTED
