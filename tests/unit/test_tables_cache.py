"""The derived-tables cache (logs/cache.py): a hit gives back exactly the frames a
parse gives, an edited capture or a damaged entry is parsed afresh, and the process
memo (analysis.derive) hands notebook 04 the analysis 03 made."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from proxylab.analysis import derive
from proxylab.logs import cache
from proxylab.logs.tables import load_tables

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "captures"


@pytest.fixture
def caps(tmp_path):
    dest = tmp_path / "runs"
    shutil.copytree(FIX, dest)
    return dest


def _same(a, b):
    for name in cache.TABLES:
        x, y = getattr(a, name), getattr(b, name)
        pd.testing.assert_frame_equal(x, y, check_exact=True, check_categorical=True)
        for col in x.columns:
            if isinstance(x[col].dtype, pd.CategoricalDtype):
                assert list(x[col].cat.categories) == list(y[col].cat.categories), col
                assert x[col].cat.categories.dtype == y[col].cat.categories.dtype, col


def test_a_hit_is_the_parse_exactly(caps, tmp_path):
    store = tmp_path / "tables"
    parsed = load_tables([caps])
    first = load_tables([caps], cache_dir=store)
    [entry] = [d for d in store.iterdir() if not d.name.startswith(".")]
    assert (entry / "meta.json").exists() and (entry / "proxy_requests.parquet").exists()
    second = load_tables([caps], cache_dir=store)
    _same(parsed, first)
    _same(parsed, second)
    assert second.records.keys() == parsed.records.keys()


def test_read_uses_the_entry_not_a_parse(caps, tmp_path, monkeypatch):
    store = tmp_path / "tables"
    load_tables([caps], cache_dir=store)
    from proxylab.logs import tables

    monkeypatch.setattr(tables, "parse", lambda c: pytest.fail("parsed despite a cache entry"))
    assert len(load_tables([caps], cache_dir=store).proxy_requests)


def test_an_edited_capture_is_parsed_again(caps, tmp_path):
    store = tmp_path / "tables"
    before = load_tables([caps], cache_dir=store)
    log = caps / "20261124T153210Z-seed-1-a1b2" / "proxy_access.log"
    log.chmod(0o644)
    log.write_text(log.read_text() + "not a squid line\n")
    after = load_tables([caps], cache_dir=store)
    assert len(after.malformed) == len(before.malformed) + 1
    assert len([d for d in store.iterdir() if not d.name.startswith(".")]) == 2


def test_a_damaged_entry_is_parsed_again_and_rewritten(caps, tmp_path):
    store = tmp_path / "tables"
    good = load_tables([caps], cache_dir=store)
    [entry] = list(store.iterdir())
    (entry / "dns_queries.parquet").write_bytes(b"garbage")
    _same(good, load_tables([caps], cache_dir=store))
    _same(good, load_tables([caps], cache_dir=store))


def test_the_key_follows_code_paths_and_content(caps):
    from proxylab.capture import find_captures

    found = find_captures(caps)
    assert cache.key(found) == cache.key(found)
    assert cache.key(found) != cache.key(found[:-1])
    assert cache.key(found) != cache.key(list(reversed(found)))


def test_prune_keeps_the_newest(tmp_path):
    for i in range(5):
        d = tmp_path / f"e{i}"
        d.mkdir()
        (d / cache.META).write_text("{}")
        os.utime(d / cache.META, (1000 + i, 1000 + i))
    cache.prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e3", "e4"]


def test_an_unwritable_cache_still_gives_tables(caps, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert len(load_tables([caps], cache_dir=blocker / "tables").runs) == 8


def test_derive_gives_the_same_analysis_for_the_same_set(caps, tmp_path):
    a = derive([caps], cache_dir=tmp_path / "tables")
    assert derive([caps]) is a
    log = caps / "20261124T153230Z-seed-2-c3d4" / "dns.log"
    log.chmod(0o644)
    log.write_text(log.read_text() + "\n")
    assert derive([caps]) is not a
