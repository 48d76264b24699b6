"""The parser of one `lro` command, whose arguments are defined only when it is used.

`lro --help` needs each command's name and one line of help, nothing more; building every
command's arguments up front would import every command module, and with them the client
and rich for `lro serve`, or the server side for `lro status`. So each command's parser
starts empty and names a `module:function` that defines its arguments; the first time the
parser parses (its command was chosen, `--help` included) it imports the module and calls
the function. A command module is then free to import what it needs at its top.

`intermixed` lets positionals and options mix freely (`lro submit reports.generate --wait
rows=5`): plain argparse takes a `nargs="*"` positional only once.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

# Generic only for type checkers: argparse does not subscript at run time.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandParser(argparse.ArgumentParser):
    """A subparser that defines its arguments on first use (see the module docstring)."""

    def __init__(self, *args: Any, define: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._define = define
        self.intermixed = False
        """Set by a command's definition to parse positionals and options intermixed."""
        self._intermixing = False

    def define(self) -> None:
        """Import the command's module and let it add its arguments (once)."""
        if self._define is None:
            return
        spec, self._define = self._define, None
        module_name, _, function = spec.partition(":")
        define: Callable[[CommandParser], None] = getattr(
            importlib.import_module(module_name), function
        )
        define(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        # The subparsers action calls this with the command's words. For an intermixed
        # command it goes through parse_known_intermixed_args, which (before Python 3.12)
        # calls back into parse_known_args: the flag stops the loop.
        self.define()
        if not self.intermixed or self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
