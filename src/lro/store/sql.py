"""SQL kept as data: numbered migration files and named query blocks, per backend package.

A backend package (`lro.store.sqlite`, `lro.store.postgres`) keeps, beside its modules:

* `migrations/NNNN_name.sql`: applied in order; the highest number is the schema version
  the code expects. Numbers start at 1 and have no gaps.
* `sql/<part>.sql`: blocks that start with a `-- name: <name>` line. `{{other}}` inside a
  block includes block `other` (a column list or a CTE, never a value), from any of the
  files loaded together.
* `schema.sql`: what a freshly migrated database holds, tested against the migrations.

Parameters are written by name, `:name`, in every backend's SQL, so a statement reads the
same on every engine and a call site says which value goes where. SQLite binds names
itself (a dict). asyncpg only knows `$1..$n`, so `load_numbered` rewrites the names to
numbers once, when the file is loaded, and `Query.args` puts keyword arguments in that
order. `::type` casts, `:=`, string literals, quoted identifiers and comments are left
alone; an array slice must be written with spaces (`a[1 : 2]`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_QUERY_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_INCLUDE = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")
_TOKEN = re.compile(
    r"""
      '(?:[^']|'')*'                      # a string literal
    | "(?:[^"]|"")*"                      # a quoted identifier
    | --[^\n]*                            # a line comment
    | /\*.*?\*/                           # a block comment
    | ::                                  # a cast
    | :=                                  # named-argument notation
    | :(?P<name>[A-Za-z_][A-Za-z0-9_]*)   # a named parameter
    | \$(?P<dollar>\d+|\$|[A-Za-z_])      # a numbered parameter or a dollar quote: refused
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class Query:
    """A named block with its `:name` parameters numbered, for drivers that only take
    `$1..$n` (asyncpg). `params[i]` is the name bound to `$i+1`."""

    name: str
    sql: str
    params: tuple[str, ...]

    def args(self, **values: Any) -> tuple[Any, ...]:
        """The values in `$n` order. Every parameter must be given, and nothing else, so
        a renamed parameter fails at its first call instead of binding the wrong value."""
        if len(values) != len(self.params):
            extra = sorted(set(values) - set(self.params))
            missing = [p for p in self.params if p not in values]
            raise TypeError(f"query {self.name!r}: missing {missing}, unexpected {extra}")
        try:
            return tuple([values[p] for p in self.params])
        except KeyError as exc:
            raise TypeError(f"query {self.name!r}: missing parameter {exc.args[0]!r}") from None


def numbered(name: str, sql: str) -> Query:
    """Rewrite `:name` parameters to `$n` (a name used twice keeps one number)."""
    order: dict[str, int] = {}

    def replace(match: re.Match[str]) -> str:
        if match["dollar"] is not None:
            raise ValueError(
                f"query {name!r}: write parameters as :name, not {match[0]!r} (and no "
                f"dollar-quoted bodies in queries; they belong in migrations)"
            )
        param = match["name"]
        if param is None:
            return match[0]
        number = order.setdefault(param, len(order) + 1)
        return f"${number}"

    return Query(name, _TOKEN.sub(replace, sql), tuple(order))


def load_migrations(package: str) -> list[Migration]:
    """The package's migrations in order; raises RuntimeError on a gap or a stray file,
    because a packaging mistake must not silently skip a schema change."""
    folder = resources.files(package).joinpath("migrations")
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
            f"{package} migrations must be numbered 1..n without gaps, "
            f"found {[m.version for m in found]}"
        )
    return found


def _blocks(text: str) -> dict[str, str]:
    parts = _QUERY_NAME.split(text)
    return {
        name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def _expand(raw: dict[str, str]) -> dict[str, str]:
    """Expand `{{name}}` includes (an included block may include others; a cycle is a
    RecursionError, found by the first test that loads the file)."""

    def expand(body: str) -> str:
        return _INCLUDE.sub(lambda m: expand(raw[m[1]]), body)

    return {name: expand(body) for name, body in raw.items()}


def parse_queries(text: str) -> dict[str, str]:
    """Split named blocks and expand their includes."""
    return _expand(_blocks(text))


def load_queries(package: str, *files: str) -> dict[str, str]:
    """The named blocks of `package/sql/<file>` for each file, includes expanded across
    them, SQL as written (`:name` parameters, as SQLite binds them)."""
    raw: dict[str, str] = {}
    for file in files:
        path = resources.files(package).joinpath("sql", file)
        for name, body in _blocks(path.read_text(encoding="utf-8")).items():
            if name in raw:
                raise RuntimeError(f"query {name!r} is defined twice in {package} {files}")
            raw[name] = body
    return _expand(raw)


def load_numbered(package: str, *files: str) -> dict[str, Query]:
    """`load_queries` with every block's parameters numbered (see `numbered`)."""
    return {name: numbered(name, sql) for name, sql in load_queries(package, *files).items()}


def read_schema(package: str) -> str:
    """The package's `schema.sql` (see the module docstring)."""
    return resources.files(package).joinpath("schema.sql").read_text(encoding="utf-8")
