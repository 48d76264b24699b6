"""Embedding: FastAPI() with both routers included under prefix="/jobs-api"."""

from tests.embedding.contract import (
    client,
    test_conflicts_are_problems,
    test_event_stream_and_its_urls,
    test_file_result_with_range,
    test_head_answers_like_get_without_a_body,
    test_late_registration_gets_a_route,
    test_list_and_cursor_urls,
    test_operator_routes,
    test_problems_for_every_error,
    test_submit_answers_urls_that_work_as_given,
)

APP = "prefixed"
ROOT = "/jobs-api"
OPENAPI = "/openapi.json"

__all__ = [
    "client",
    "test_conflicts_are_problems",
    "test_event_stream_and_its_urls",
    "test_file_result_with_range",
    "test_head_answers_like_get_without_a_body",
    "test_late_registration_gets_a_route",
    "test_list_and_cursor_urls",
    "test_operator_routes",
    "test_problems_for_every_error",
    "test_submit_answers_urls_that_work_as_given",
]
