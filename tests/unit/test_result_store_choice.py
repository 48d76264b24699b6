"""Choosing the result store (LRO_RESULT_STORE, HTTP-CONTRACT §20): the spec's forms, and
the default that follows the job store (`file` beside SQLite, `db` on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lro import LRO, Settings
from lro.results import DbResultStore, LocalResultStore, open_result_store
from lro.store import open_store


def settings(tmp_path: Path, **kw: str) -> Settings:
    return Settings(result_dir=str(tmp_path / "results"), **kw)


def test_the_default_follows_the_job_store(tmp_path: Path) -> None:
    s = settings(tmp_path)
    beside_sqlite = open_result_store(None, open_store(f"sqlite:///{tmp_path}/x.db"), s)
    assert isinstance(beside_sqlite, LocalResultStore)
    assert beside_sqlite.root == (tmp_path / "results").resolve()
    # Built, not connected: choosing needs no database.
    on_postgres = open_result_store(None, open_store("postgresql://nobody@127.0.0.1:1/x"), s)
    assert isinstance(on_postgres, DbResultStore)


def test_spec_forms(tmp_path: Path) -> None:
    s = settings(tmp_path)
    store = open_store("postgresql://nobody@127.0.0.1:1/x")
    plain = open_result_store("file", store, s)
    assert isinstance(plain, LocalResultStore) and plain.root == (tmp_path / "results").resolve()
    named = open_result_store(f"file://{tmp_path}/elsewhere", store, s)
    assert isinstance(named, LocalResultStore) and named.root == tmp_path / "elsewhere"
    assert isinstance(
        open_result_store("db", open_store(f"sqlite:///{tmp_path}/x.db"), s), DbResultStore
    )
    from lro.results.s3 import S3ResultStore

    s3 = open_result_store("s3://bucket/some/prefix?redirect=1", store, s)
    assert isinstance(s3, S3ResultStore)
    assert (s3.bucket, s3.prefix, s3.redirect) == ("bucket", "some/prefix/", True)


@pytest.mark.parametrize("spec", ["ftp://x", "files", "file://", "s3"])
def test_unknown_specs_are_refused(tmp_path: Path, spec: str) -> None:
    store = open_store(f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(ValueError, match="result store"):
        open_result_store(spec, store, settings(tmp_path))


def test_settings_refuse_a_malformed_spec_and_read_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="unsupported result store"):
        Settings(result_store="ftp://x")
    monkeypatch.setenv("LRO_RESULT_STORE", "db")
    assert Settings().result_store == "db"
    monkeypatch.setenv("LRO_RESULT_STORE", "  ")
    assert Settings().result_store is None


def test_lro_builds_its_result_store_on_first_use_unless_given_one(tmp_path: Path) -> None:
    given = LocalResultStore(tmp_path / "mine")
    assert LRO(f"sqlite:///{tmp_path}/a.db", result_store=given).result_store is given
    lro = LRO("postgresql://nobody@127.0.0.1:1/x", settings=settings(tmp_path))  # never opened here
    assert isinstance(lro.result_store, DbResultStore)
    assert lro.result_store is lro.result_store
