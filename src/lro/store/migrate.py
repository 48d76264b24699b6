"""SQL kept as data: numbered migration files and named query blocks, per backend.

Layout, under `lro/store/sql/<backend>/`:

* `migrations/NNNN_name.sql`: applied in order; the highest number is the schema version
  this code expects. Numbers start at 1 and have no gaps.
* `queries.sql`: blocks that start with a `-- name: <name>` line; `{{other}}` inside a
  block includes block `other` (for column lists; values are always bound parameters).

Applying migrations is backend-specific (locks differ); reading them is shared here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_QUERY_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_INCLUDE = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(backend: str) -> list[Migration]:
    """The backend's migrations in order; raises RuntimeError on a gap or a stray file,
    because a packaging mistake must not silently skip a schema change."""
    folder = resources.files("lro.store").joinpath("sql", backend, "migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            raise RuntimeError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    expected = list(range(1, len(found) + 1))
    if [m.version for m in found] != expected:
        raise RuntimeError(
            f"{backend} migrations must be numbered 1..n without gaps, "
            f"found {[m.version for m in found]}"
        )
    return found


def parse_queries(text: str) -> dict[str, str]:
    """Split named blocks and expand `{{name}}` includes (an included block may include
    others; a cycle is a RecursionError, found by the first test that loads the file)."""
    parts = _QUERY_NAME.split(text)
    raw = {
        name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }

    def expand(body: str) -> str:
        return _INCLUDE.sub(lambda m: expand(raw[m[1]]), body)

    return {name: expand(body) for name, body in raw.items()}


def load_queries(backend: str, file: str = "queries.sql") -> dict[str, str]:
    path = resources.files("lro.store").joinpath("sql", backend, file)
    return parse_queries(path.read_text(encoding="utf-8"))
