"""Embedding: lro.create_app() mounted at /jobsvc inside a plain Starlette app (which
never runs the mounted app's lifespan: the routes open the store themselves)."""

from tests.embedding.contract import *  # noqa: F403 - the one contract suite, run here

APP = "mounted"
ROOT = "/jobsvc"
OPENAPI = "/jobsvc/openapi.json"
