"""The package's public surface is deliberate: adding or removing a name is an API change
that must show up in review, so the list is pinned here."""

from __future__ import annotations

import lro


def test_public_names_are_pinned_and_sorted() -> None:
    assert lro.__all__ == [
        "LRO",
        "TERMINAL",
        "AsyncClient",
        "Client",
        "ErrorDetail",
        "File",
        "Job",
        "JobCancelled",
        "JobContext",
        "JobError",
        "PermanentError",
        "Settings",
        "Status",
        "SubmitRequest",
    ]
    assert lro.__all__ == sorted(lro.__all__, key=lambda n: (not n.isupper(), n))


def test_every_public_name_resolves() -> None:
    for name in lro.__all__:
        assert getattr(lro, name) is not None, name
