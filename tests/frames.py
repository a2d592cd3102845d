"""The contact lists the tests send to: one helper, its parameters the differences."""

from __future__ import annotations

import pandas as pd


def contacts(
    n: int,
    prefix: str | None = "137",
    *,
    start: int = 0,
    index: str | pd.Index | None = None,
    index_start: int | None = None,
    index_step: int = 1,
    **columns: object,
) -> pd.DataFrame:
    """``n`` contacts, numbered ``i = start, start + 1, ...``.

    - ``prefix``: their phones are ``f"{prefix}{i:08d}"``, in a ``phone`` column right
      after ``name`` (or first); None: no phone column. A ``phone=`` column replaces them.
    - ``columns``: more columns, in the order given. A str is formatted for each row with
      ``i`` and ``k``, the row's position from 0 (``name="客户{i}"``); a list or tuple is
      repeated over the rows (``segment=["a", "b"]``); anything else (a typed array, a
      Categorical, a scalar) is given to the frame as it is.
    - ``index``: the name of an index numbered from ``index_start`` (default ``start``)
      by ``index_step``; or an Index, as it is. None: 0 to n - 1.
    """
    numbers = range(start, start + n)
    data: dict[str, object] = {}
    for name, value in columns.items():
        if isinstance(value, str):
            data[name] = [value.format(i=i, k=k) for k, i in enumerate(numbers)]
        elif isinstance(value, list | tuple):
            data[name] = [value[k % len(value)] for k in range(n)]
        else:
            data[name] = value
    if prefix is not None and "phone" not in data:
        phones = [f"{prefix}{i:08d}" for i in numbers]
        at = list(data).index("name") + 1 if "name" in data else 0
        items = list(data.items())
        data = dict([*items[:at], ("phone", phones), *items[at:]])
    if isinstance(index, str):
        first = start if index_start is None else index_start
        index = pd.Index(range(first, first + index_step * n, index_step), name=index)
    return pd.DataFrame(data, index=index)
