"""Contact hygiene at scale: what the suppression list and frequency caps add to a plan.

A SQLite journal is built once (cached in ``--journal``, else a temporary folder):
``--deliveries`` past deliveries in calls of ``--chunk`` numbers over ``--campaigns``
campaigns of the last 30 days (mostly sent; some failed, some unknown, some with no
outcome; numbers in some sent calls' FailPhone; the latest campaign scheduled two days
ahead, SendTimer), and ``--suppressions`` numbers on the suppression list, half of them
among the plan's. The plan's numbers have 0, 1, 2, 3, 6 or 12 past messages (a quarter
none). Then a contact frame of ``--rows`` rows is planned, in ABBA rounds in one process:

- baseline: ``df.sms.plan(message, journal=<an empty journal>)``, planning itself;
- A: ``df.sms.plan(message, journal=journal)``, the suppression list only;
- B: the same with ``cap=(3, "7D")`` (and ``cap=[(1, "1D"), (3, "7D")]`` once).

Goal (the issue): planning 1M rows against a journal of 5M past deliveries and 100k
suppressions, the caps must not make a plan slower than 2x the plan without them
(B/A <= 2). Printed: medians [min-max] of wall time, median CPU time, the ratios B/A and
B/baseline per round, the rows rejected per reason, the journal's size on disk and the
peak RSS of the planning process (the journal is built in a child process).

    python bench/bench_hygiene.py                      # 1M rows, 5M deliveries, 100k suppressed
    python bench/bench_hygiene.py --quick              # 100k rows, 500k, 10k: under a minute
    python bench/bench_hygiene.py --journal /tmp/hyg   # keep the journal for the next run
    python bench/bench_hygiene.py --journal /tmp/hyg --rebuild --rounds 3 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import multiprocessing
import os
import pstats
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import smsframe  # noqa: F401 - registers df.sms
from smsframe.codes import decode
from smsframe.journal import (
    Journal,
    calls_table,
    campaigns_table,
    contents_table,
    groups_table,
    messages_table,
)
from smsframe.keys import digest

MESSAGE = "【品牌】会员日全场满200减30，回T退订"
CAP = (3, "7D")
CAPS = [(1, "1D"), (3, "7D")]
ACCOUNT_ID = 101
# Mainland mobile prefixes: the plan's numbers, and others' (never in the plan).
PLAN_PREFIXES = np.array([130, 131, 132, 134, 135, 136, 137, 138, 139, 150, 151, 152, 155])
OTHER_PREFIXES = np.array([156, 157, 158, 159, 182, 183, 185, 186, 187, 188, 189, 199])
# Past messages of a plan's number, and the share of numbers with that many.
HISTORY = {0: 0.25, 1: 0.20, 2: 0.20, 3: 0.15, 6: 0.10, 12: 0.10}
SUPPRESSED_IN_PLAN = 0.5  # share of the suppression list among the plan's numbers
DAYS = 30  # the history spans the last DAYS days
NAMES = np.array(["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强", "周杰", "吴芳"])


# --------------------------------------------------------------------------- data
def plan_numbers(rows: int) -> np.ndarray:
    """``rows`` distinct 11-digit mobiles (int64), the same for the same ``rows``."""
    i = np.arange(rows, dtype=np.int64)
    k = len(PLAN_PREFIXES)
    rest = ((i // k) * 7919 + 12345) % 10**8  # 7919 is prime to 10**8: distinct
    return PLAN_PREFIXES[i % k] * 10**8 + rest


def other_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random mobiles (int64) that no plan has."""
    prefix = OTHER_PREFIXES[rng.integers(len(OTHER_PREFIXES), size=n)]
    return prefix * 10**8 + rng.integers(10**8, size=n)


def contact_frame(rows: int) -> pd.DataFrame:
    numbers = plan_numbers(rows)
    return pd.DataFrame(
        {
            "phone": pa.array(numbers).cast(pa.string()).to_numpy(zero_copy_only=False),
            "name": NAMES[np.arange(rows) % len(NAMES)].astype(object),
        }
    )


def occurrences(numbers: np.ndarray) -> np.ndarray:
    """For each delivery, how many earlier ones went to the same number."""
    order = np.argsort(numbers, kind="stable")
    ordered = numbers[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(numbers)), 0))
    result = np.empty(len(numbers), dtype=np.int64)
    result[order] = np.arange(len(numbers)) - start
    return result


def deliveries(params: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each past delivery's number and campaign; a number's messages in distinct campaigns."""
    plan = plan_numbers(params["rows"])
    counts = rng.choice(list(HISTORY), size=len(plan), p=list(HISTORY.values()))
    mine = np.repeat(plan, counts)
    total = params["deliveries"]
    if len(mine) > total:
        mine = rng.choice(mine, total, replace=False)
    others = total - len(mine)
    pool = other_numbers(rng, max(others // 2, 1))  # about 2 messages each
    numbers = np.concatenate([mine, pool[rng.integers(len(pool), size=others)]])
    c = params["campaigns"]
    stride = next(s for s in range(max(c // 3, 1), c + 1) if math.gcd(s, c) == 1)
    campaign = (numbers % 10007 + occurrences(numbers) * stride) % c
    return numbers, campaign


def build(path: Path, params: dict) -> dict:
    """Write the journal at ``path``: calls inserted in one transaction (SQLAlchemy core,
    executemany in batches), the suppression list by ``record_suppressions``."""
    started = time.perf_counter()
    rng = np.random.default_rng(params["seed"])
    now = datetime.now(UTC)
    numbers, campaign = deliveries(params, rng)
    order = np.lexsort((rng.random(len(numbers)), campaign))  # by campaign, shuffled
    numbers, campaign = numbers[order], campaign[order]
    c, chunk = params["campaigns"], params["chunk"]
    per_campaign = np.bincount(campaign, minlength=c)
    first = np.r_[0, np.cumsum(per_campaign)[:-1]]
    starts = [first[k] + np.arange(0, per_campaign[k], chunk) for k in range(c)]
    call_campaign = np.concatenate([np.full(len(s), k) for k, s in enumerate(starts)])
    call_index = np.concatenate([np.arange(len(s)) for s in starts])
    calls_of = np.array([len(s) for s in starts])
    offsets = np.r_[np.concatenate(starts), len(numbers)].astype(np.int32)
    texts = pa.array(numbers).cast(pa.string())
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), texts), ";")
    joined = joined.to_pylist()
    generated = time.perf_counter() - started

    # The campaigns start evenly from 30 days to 12 hours ago, each with its calls over
    # 2 hours; the last one was made an hour ago, a schedule for 2 days ahead.
    span, latest = timedelta(days=DAYS), timedelta(hours=12)
    begin = [now - span + k * (span - latest) / max(c - 2, 1) for k in range(c)]
    begin[-1] = now - timedelta(hours=1)
    scheduled_for = (now + timedelta(days=2)).replace(second=0, microsecond=0)
    names = [f"hist-{k:02d}" for k in range(c)]
    texts_of = [f"【品牌】第{k + 1}期会员日，全场满200减30，回T退订" for k in range(c)]
    texts_of[3] += "。" + "新品上市，会员专享折扣，详情见App首页活动页面。" * 3  # 2 parts
    parts_of = [2 if len(t) > 70 else 1 for t in texts_of]
    hashes = [digest(t) for t in texts_of]
    at_of = [scheduled_for if k == c - 1 else None for k in range(c)]
    groups = [digest(t, None, at) for t, at in zip(texts_of, at_of, strict=True)]
    stamps = [int(b.timestamp()) for b in begin]
    failed = decode("SendMessage", -9)

    draw = rng.random(len(joined))
    batch = rng.integers(10**9, 10**10, size=len(joined))
    rows = []
    for i, text in enumerate(joined):
        k = int(call_campaign[i])
        schedule = k == c - 1
        intent_at = begin[k] + timedelta(hours=2) * (int(call_index[i]) / calls_of[k])
        row = {
            "campaign": names[k],
            "call_key": digest(names[k], groups[k], text, None),
            "group_key": groups[k],
            "operation": "SendTimer" if schedule else "SendMessage",
            "message_hash": hashes[k],
            "ext": None,
            "scheduled_for": scheduled_for if schedule else None,
            "timestamp": stamps[k],
            "numbers": text,
            "recipients": int(offsets[i + 1] - offsets[i]),
            "parts": parts_of[k],
            "intent_at": intent_at,
            "status": "scheduled" if schedule else "sent",
            "state": 1,
            "batch_id": int(batch[i]),
            "fail_phone": "",
            "detail": "",
            "resend_safe": False,
            "outcome_at": intent_at + timedelta(milliseconds=200 + int(draw[i] * 800)),
        }
        if draw[i] < 0.03:  # refused: certainly not sent
            row.update(status="failed", state=-9, batch_id=None, detail=failed.en)
            row["resend_safe"] = True
        elif draw[i] < 0.05 and not schedule:  # timed out: may have gone out
            row.update(status="unknown", state=None, batch_id=None, detail="read timed out")
        elif draw[i] < 0.07 and not schedule:  # interrupted: an intent without outcome
            row.update(status=None, state=None, batch_id=None, detail=None)
            row.update(fail_phone=None, resend_safe=None, outcome_at=None)
        elif draw[i] < 0.09 and not schedule:  # sent, but FailPhone listed a few
            listed = text.split(";")[: 1 + int(draw[i] * 1000) % 3]
            row["fail_phone"] = ";".join(listed)
        rows.append(row)
    journal = Journal(path)
    try:
        with journal.engine.begin() as db:
            for start in range(0, len(rows), 5000):
                db.execute(calls_table.insert(), rows[start : start + 5000])
            db.execute(
                campaigns_table.insert(),
                [
                    {
                        "name": name,
                        "account_id": ACCOUNT_ID,
                        "created_at": begin[k],
                        "balance_before": 10**7,
                        "balance_after": 10**7 - int(per_campaign[k]) * parts_of[k],
                    }
                    for k, name in enumerate(names)
                ],
            )
            db.execute(
                contents_table.insert(),
                [
                    {
                        "campaign": name,
                        "account_id": ACCOUNT_ID,
                        "kind": "schedule" if k == c - 1 else "send",
                        "template": texts_of[k],
                        "recorded_at": begin[k],
                    }
                    for k, name in enumerate(names)
                ],
            )
            db.execute(
                groups_table.insert(),
                [
                    {"campaign": n, "group_key": g, "message_hash": h, "timestamp": s}
                    for n, g, h, s in zip(names, groups, hashes, stamps, strict=True)
                ],
            )
            db.execute(
                messages_table.insert(),
                [{"message_hash": h, "message": t} for h, t in zip(hashes, texts_of, strict=True)],
            )
        inserted = time.perf_counter() - started
        listed = suppression_list(params, rng)
        journal.record_suppressions(listed, "add", reason="opt_out")
    finally:
        journal.close()
    plan = plan_numbers(params["rows"])
    where = pd.Index(plan).get_indexer(numbers)
    past = np.bincount(where[where >= 0], minlength=len(plan))
    return {
        "params": params,
        "built_at": now.isoformat(),
        "calls": len(rows),
        "generate_s": round(generated, 1),
        "insert_s": round(inserted - generated, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "plan_past_messages": {
            "0": int((past == 0).sum()),
            "1": int((past == 1).sum()),
            "2": int((past == 2).sum()),
            "3+": int((past >= 3).sum()),
        },
        "suppressed_in_plan": int(min(params["suppressions"] * SUPPRESSED_IN_PLAN, len(plan))),
    }


def suppression_list(params: dict, rng: np.random.Generator) -> list[str]:
    """E.164 numbers, distinct: a share of the plan's, the rest others'."""
    plan = plan_numbers(params["rows"])
    n = params["suppressions"]
    mine = plan[rng.choice(len(plan), min(int(n * SUPPRESSED_IN_PLAN), len(plan)), replace=False)]
    others = np.unique(other_numbers(rng, 2 * (n - len(mine)) + 10))
    others = rng.permutation(others)[: n - len(mine)]
    return ["+86" + str(x) for x in np.concatenate([mine, others]).tolist()]


def _build_child(path: str, params: dict, queue) -> None:
    queue.put(build(Path(path), params))


def prepared(folder: Path, params: dict, rebuild: bool) -> tuple[Path, dict]:
    """The journal in ``folder`` for ``params``: built (in a child process, so that its
    memory is not the planning process's peak) unless a matching one is there."""
    path, meta_path = folder / "journal.sqlite", folder / "build.json"
    if not rebuild and path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta["params"] == params:
            return path, meta
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("journal.sqlite*"):
        stale.unlink()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_build_child, args=(str(path), params, queue))
    child.start()
    meta = queue.get()
    child.join()
    if child.exitcode:
        raise SystemExit(f"building the journal failed (exit code {child.exitcode})")
    meta_path.write_text(json.dumps(meta, indent=1))
    return path, meta


def disk_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


# --------------------------------------------------------------------------- timing
def timed(call) -> tuple[float, float]:
    """Wall and CPU time of one call."""
    started, started_cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - started, time.process_time() - started_cpu


def spread(values: list[float], unit: str = " s", digits: int = 2) -> str:
    return (
        f"{statistics.median(values):.{digits}f}{unit} "
        f"[{min(values):.{digits}f}-{max(values):.{digits}f}]"
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=5_000_000)
    parser.add_argument("--suppressions", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=100, help="numbers per past call")
    parser.add_argument("--campaigns", type=int, default=20, help="past campaigns")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds")
    parser.add_argument("--journal", type=Path, help="folder to keep the journal in")
    parser.add_argument("--rebuild", action="store_true", help="build the journal again")
    parser.add_argument("--quick", action="store_true", help="100k rows, 500k, 10k")
    parser.add_argument("--profile", action="store_true", help="profile one capped plan")
    parser.add_argument("--sort", default="cumulative", help="profile order, e.g. tottime")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.deliveries, args.suppressions = 100_000, 500_000, 10_000
    params = {
        k: getattr(args, k)
        for k in ("rows", "deliveries", "suppressions", "chunk", "campaigns", "seed")
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.journal or Path(tmp) / "hygiene"
        started = time.perf_counter()
        path, meta = prepared(folder, params, args.rebuild)
        took = time.perf_counter() - started
        past = meta["plan_past_messages"]
        print(
            f"journal {path}: {args.deliveries:,} past deliveries in {meta['calls']:,} "
            f"calls of {args.chunk} over {args.campaigns} campaigns, "
            f"{args.suppressions:,} suppressed ({meta['suppressed_in_plan']:,} in the plan); "
            f"{disk_size(path) / 2**20:,.0f} MiB on disk"
        )
        print(
            f"  built {meta['built_at'][:16]} UTC in {meta['total_s']:.0f} s (data "
            f"{meta['generate_s']:.0f} s, calls inserted {meta['insert_s']:.0f} s)"
            if took > 1
            else f"  reused: built {meta['built_at'][:16]} UTC"
        )
        print(
            "  the plan's numbers by past messages (30 days): "
            + ", ".join(f"{k}: {v / args.rows:.0%}" for k, v in past.items())
        )
        empty = folder / "empty.sqlite"
        Journal(empty).close()
        df = contact_frame(args.rows)
        journal = Journal(path)
        try:
            run(args, df, journal, str(empty))
        finally:
            journal.close()


def run(args: argparse.Namespace, df: pd.DataFrame, journal: Journal, empty: str) -> None:
    variants = {
        "baseline": lambda: df.sms.plan(MESSAGE, journal=empty),
        "suppression": lambda: df.sms.plan(MESSAGE, journal=journal),
        "capped": lambda: df.sms.plan(MESSAGE, journal=journal, cap=CAP),
    }
    before = peak_rss_mib()
    plans = {name: call() for name, call in variants.items()}  # warm-up, and the counts
    for name, plan in plans.items():
        rejected = ", ".join(f"{k} {v:,}" for k, v in plan.rejected().items()) or "none"
        print(f"  {name:11} rejected: {rejected}; {plan.summary()['recipients']:,} recipients")
    del plans
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(variants["capped"])
        print(f"profile of one plan with cap={CAP!r} (top 15, {args.sort}):")
        pstats.Stats(profile).sort_stats(args.sort).print_stats(15)
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        for name in order:
            w, c = timed(variants[name])
            wall[name].append(w)
            cpu[name].append(c)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"plan of {len(df):,} rows, {args.rounds} ABBA rounds: wall median [min-max], "
        f"CPU median (load average now {load} on {os.cpu_count()} cores)"
    )
    labels = {
        "baseline": "baseline (empty journal)",
        "suppression": "A: suppression only",
        "capped": f"B: cap={CAP!r}",
    }
    for name in variants:
        print(f"  {labels[name]:26} {spread(wall[name])}  CPU {statistics.median(cpu[name]):.2f} s")
    both = lambda: df.sms.plan(MESSAGE, journal=journal, cap=CAPS)  # noqa: E731
    w, c = timed(both)
    print(f"  {'cap=' + repr(CAPS):26} {w:.2f} s (once)  CPU {c:.2f} s")
    over_a = [b / a for a, b in zip(wall["suppression"], wall["capped"], strict=True)]
    over_base = [b / a for a, b in zip(wall["baseline"], wall["capped"], strict=True)]
    a_base = [b / a for a, b in zip(wall["baseline"], wall["suppression"], strict=True)]
    cpu_a = [b / a for a, b in zip(cpu["suppression"], cpu["capped"], strict=True)]
    verdict = "met" if statistics.median(over_a) <= 2 else "NOT met"
    print(f"  B/A        {spread(over_a, 'x')}  (goal <= 2x: {verdict}); CPU {spread(cpu_a, 'x')}")
    print(f"  B/baseline {spread(over_base, 'x')}")
    print(f"  A/baseline {spread(a_base, 'x')}")
    capped = both()
    rejected = ", ".join(f"{k} {v:,}" for k, v in capped.rejected().items())
    print(f"  cap={CAPS!r} rejected: {rejected}")
    del capped
    print(
        f"peak RSS of this process {peak_rss_mib():,.0f} MiB ({before:,.0f} MiB before the "
        f"first plan; the contact frame {df.memory_usage(deep=True).sum() / 2**20:,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
