"""smsframe.phones as a package: a small public face, one module per concern, and a
region the automata cannot compile said once, not silently slow."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pandas as pd
import pytest
from phonenumbers import PhoneMetadata

import smsframe.phones
from smsframe.phones import _automata, _metadata

PACKAGE = Path(smsframe.phones.__file__).parent


def test_the_public_face():
    for name in smsframe.phones.__all__:
        assert getattr(smsframe.phones, name) is not None
    assert set(smsframe.phones.__all__) >= {"normalize", "normalize_frame", "check_region",
                                            "REASONS", "REASON_TEXT", "details"}  # fmt: skip


def test_only_the_compiler_reads_the_private_regex_parser():
    readers = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.startswith("re._") or n in ("sre_parse", "sre_constants") for n in names):
                    readers.append(path.name)
    assert set(readers) == {"_automata.py"}


def test_a_pattern_the_automata_cannot_model_is_the_sentinel():
    assert _automata._prefix("(?<=1)0") is _automata.UNSUPPORTED  # a lookbehind
    assert _automata._prefix(None) is None
    assert isinstance(_automata._prefix("0|86"), _automata._Prefix)
    assert repr(_automata.UNSUPPORTED) == "UNSUPPORTED"


class Edited:
    """A region's real metadata with some attributes replaced (phonenumbers' own
    metadata is immutable)."""

    def __init__(self, region: str, **replaced) -> None:
        self._metadata = PhoneMetadata.metadata_for_region(region)
        self._replaced = replaced

    def __getattr__(self, name):
        if name in self._replaced:
            return self._replaced[name]
        return getattr(self._metadata, name)


def test_a_region_falling_back_to_phonenumbers_warns_once():
    with pytest.warns(pd.errors.PerformanceWarning, match="region CN .*national prefix"):
        region = _metadata._Region(Edited("CN", national_prefix_for_parsing="(?<=1)0"))
    assert region.ok and region.national_prefix is _automata.UNSUPPORTED
    with pytest.warns(pd.errors.PerformanceWarning, match="region GB .*number patterns"):
        region = _metadata._Region(Edited("GB", general_desc=None))
    assert not region.ok


def test_every_real_region_compiles_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        for code in ("CN", "US", "GB", "DE", "IN", "HK", "001"):
            if code == "001":
                _metadata._country.__wrapped__(800)
            else:
                _metadata._region.__wrapped__(code)
