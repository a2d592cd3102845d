"""Parquet datasets for bench_dask.py, written once to a cache folder and reused.

``messy(folder, files)``: ``files`` files of 1M messy phone numbers each
(``part.00000.parquet`` ...). File ``k`` is ``bench_phones.corpus(1_000_000, seed=k)``
(about 70% distinct values, at least 15% spelled as real exports give them; ints,
floats and None written as text or null) with ``CROSS_SHARE`` of its rows replaced by
values drawn from file ``k - 1``, so that numbers repeat across files as well as within
one. Memory holds two files at a time, whatever the number of files.

``distinct(folder, rows, part_rows)``: ``rows`` distinct mainland mobiles
(``150...``), ``part_rows`` a file, for the send.

Files are written under a temporary name and renamed, so that an interrupted run leaves
only whole files; a file present is reused.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from bench_phones import corpus

FILE_ROWS = 1_000_000
CROSS_SHARE = 0.05  # of a file's rows: copies of values of the file before it


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if isinstance(value, str) else str(value)


def _write(path: Path, values: list[str | None]) -> None:
    table = pa.table({"phone": pa.array(values, type=pa.string())})
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    pq.write_table(table, partial, row_group_size=FILE_ROWS)
    partial.rename(path)


def messy(folder: Path, files: int, log=print) -> list[Path]:
    """The paths of the first ``files`` messy files, writing the missing ones."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"part.{k:05d}.parquet" for k in range(files)]
    previous: list[str | None] | None = None
    for k, path in enumerate(paths):
        if path.exists():
            previous = None  # read back only if the next file needs it
            continue
        if k > 0 and previous is None:
            previous = pq.read_table(paths[k - 1]).column("phone").to_pylist()
        values = [_text(v) for v in corpus(FILE_ROWS, seed=k)]
        if previous is not None:
            rng = random.Random(f"cross:{k}")
            count = int(CROSS_SHARE * FILE_ROWS)
            for at in rng.sample(range(FILE_ROWS), count):
                values[at] = previous[rng.randrange(FILE_ROWS)]
        _write(path, values)
        previous = values
        log(f"   wrote {path} ({k + 1}/{files})", flush=True)
    return paths


def distinct(folder: Path, rows: int, part_rows: int) -> list[Path]:
    """The paths of ``rows`` distinct mobiles in files of ``part_rows``."""
    folder = folder / f"send-{rows}-{part_rows}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, rows, part_rows)):
        path = folder / f"part.{k:05d}.parquet"
        if not path.exists():
            ids = np.arange(start, min(rows, start + part_rows), dtype=np.int64)
            _write(path, [f"150{i:08d}" for i in ids.tolist()])
        paths.append(path)
    return paths
