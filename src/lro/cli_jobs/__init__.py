"""`lro submit | status | wait | jobs | cancel | result`: the command line for people
(and scripts, with `--json`) on top of `lro.client.Client`.

    lro submit OPERATION [KEY=VALUE ...] [--json [PARAMS]] [--wait] [--respond-async] ...
    lro status JOB          lro wait JOB [--timeout SECONDS]
    lro jobs [--status S[,S]] [--operation NAME] [--limit N] [--all]
    lro cancel JOB          lro result JOB [-o FILE]

Every command takes `--url` (env LRO_URL) and `--api-key` (env LRO_API_KEY). `lro.cli`
registers them with `add_commands`; this package never imports the server side, so these
commands only need the client's dependencies.

Modules: `options` (command line to request), `describe` (words for a job), `output`
(json / terminal / plain), `follow` (the wait loop), `exits`, `commands` (the requests),
`parser` (the arguments).
"""

from __future__ import annotations

from lro.cli_jobs.exits import Exit
from lro.cli_jobs.parser import add_commands

__all__ = ["Exit", "add_commands"]
