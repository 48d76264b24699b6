"""Tests of lro.testing, the harness users test their own operations with: real SQLite,
a real worker, a real webhook receiver, no sleeps."""
