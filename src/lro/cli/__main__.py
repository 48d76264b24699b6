"""`python -m lro.cli`: the `lro` command without the console script."""

from lro.cli import main

raise SystemExit(main())
