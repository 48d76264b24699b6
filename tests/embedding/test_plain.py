"""Embedding: FastAPI() with include_router(lro.router) and
include_router(lro.operator_router), no prefix."""

from tests.embedding.contract import *  # noqa: F403 - the one contract suite, run here

APP = "plain"
ROOT = ""
OPENAPI = "/openapi.json"
