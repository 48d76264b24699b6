"""Embedding: lro.create_app() served as it is, as lro serve does."""

from tests.embedding.contract import *  # noqa: F403 - the one contract suite, run here

APP = "created"
ROOT = ""
OPENAPI = "/openapi.json"
