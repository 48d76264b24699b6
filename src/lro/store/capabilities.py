"""Reading a store's optional capabilities, for the layers that refuse what a backend
cannot do (HTTP-CONTRACT §19: a 501 problem rather than pretending)."""

from __future__ import annotations

from lro.store.base import Store


def has_flows(store: Store) -> bool:
    """`Store.supports_flows`, False for a store that predates the attribute."""
    return bool(getattr(store, "supports_flows", False))
