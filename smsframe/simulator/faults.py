"""Fault injection: rules that make the next calls of an operation misbehave."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

FAULTS = ("state-9", "state-100", "null", "http500", "drop-before", "drop-after", "delay")
STATE = re.compile(r"state(-?[0-9]+)")  # "state-N": answer code -N without processing


def forced_state(fault: str) -> int | None:
    """The code a ``state-N`` fault answers (any N: state-9, state-100, state-11...)."""
    match = STATE.fullmatch(fault)
    return int(match.group(1)) if match else None


@dataclass
class FaultRule:
    """Misbehave on ``operation`` (``None``: every one) for ``times`` calls and/or with
    ``probability``; with neither, on every call until cleared."""

    operation: str | None
    fault: str
    times: int | None = None
    probability: float | None = None
    delay_ms: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def applies_to(self, operation: str) -> bool:
        if self.operation is not None and self.operation != operation:
            return False
        return self.probability is None or self.rng.random() < self.probability


class Faults:
    """The active fault rules, consulted once per call (thread-safe)."""

    def __init__(self, operations: tuple[str, ...]) -> None:
        self._operations = operations
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(
        self,
        operation: str | None,
        fault: str,
        *,
        times: int | None = None,
        probability: float | None = None,
        delay_ms: int = 0,
        seed: int | None = None,
    ) -> FaultRule:
        if fault not in FAULTS and forced_state(fault) is None:
            raise ValueError(
                f"unknown fault {fault!r}; choose one of {', '.join(FAULTS)} (or state-N)"
            )
        if operation is not None and operation not in self._operations:
            raise ValueError(
                f"unknown operation {operation!r}; choose one of {', '.join(self._operations)}"
            )
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None)")
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if fault == "delay" and delay_ms <= 0:
            raise ValueError("the 'delay' fault needs delay_ms > 0")
        rule = FaultRule(operation, fault, times, probability, delay_ms, random.Random(seed))
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, operation: str) -> FaultRule | None:
        """The rule that fires on this call, if any; consumes one of its ``times``."""
        with self._lock:
            for rule in self._rules:
                if rule.applies_to(operation):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self._rules.remove(rule)
                    return rule
        return None
