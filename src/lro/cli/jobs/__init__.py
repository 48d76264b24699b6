"""`lro submit | status | wait | jobs | cancel | result`: the command line for people
(and scripts, with `--json`) on top of `lro.client.Client`.

    lro submit OPERATION [KEY=VALUE ...] [--json [PARAMS]] [--wait] [--respond-async] ...
    lro status JOB          lro wait JOB [--timeout SECONDS]
    lro jobs [--status S[,S]] [--operation NAME] [--limit N] [--all]
    lro cancel JOB          lro result JOB [-o FILE]

Every command takes `--url` (env LRO_URL) and `--api-key` (env LRO_API_KEY). This package
never imports the server side (import-linter holds that line), so these commands need
only the client's dependencies.

One module per command (`submit`, `status`, `wait`, `listing` for `lro jobs`, `cancel`,
`result`), each with its `define` (the arguments) and `run` (the requests); and what they
share: `arguments` (the common options), `session` (the client and its errors), `options`
(command-line words to a request), `describe` (words for a job), `output` (json / terminal
/ plain), `follow` (the wait loop), `exits` (the exit statuses).
"""
