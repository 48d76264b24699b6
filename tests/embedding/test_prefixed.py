"""Embedding: FastAPI() with both routers included under prefix="/jobs-api"."""

from tests.embedding.contract import *  # noqa: F403 - the one contract suite, run here

APP = "prefixed"
ROOT = "/jobs-api"
OPENAPI = "/openapi.json"
