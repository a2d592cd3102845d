"""Stable keys: the digests that name calls, groups and messages, and a campaign's key
in the claims table. Pure functions, shared by the plan and the journal."""

from __future__ import annotations

import functools
import hashlib


def digest(*parts: object) -> str:
    """A stable hex key of ``parts`` (sha256)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@functools.lru_cache(maxsize=64)
def campaign_key(name: str) -> int:
    """The claims' key of campaign ``name``: 60 bits of its digest (two names with one
    key would only refuse each other's numbers, never send one twice)."""
    return int(digest("campaign", name)[:15], 16)
