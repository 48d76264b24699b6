"""The Python client against a server with API keys: the key opens the caller's own jobs,
a wrong key raises Unauthorized, and another principal's job is NotFound."""

from __future__ import annotations

import pytest
from tests.security.conftest import KEYS
from tests.stream.conftest import Served

from lro.client import AsyncClient, NotFound, Unauthorized


async def test_the_client_sends_its_key_and_maps_401_and_404(secured: Served) -> None:
    async with AsyncClient(secured.url, api_key=KEYS["alice"], max_retries=0) as alice:
        job = await alice.submit("echo", {"text": "hi"})
        assert (await alice.get(job.job_id)).status == "queued"
        assert [j.job_id for j in (await alice.list()).items] == [job.job_id]
    async with AsyncClient(secured.url, api_key="not-a-key", max_retries=0) as wrong:
        with pytest.raises(Unauthorized) as refused:
            await wrong.get(job.job_id)
        assert refused.value.status == 401
    async with AsyncClient(secured.url, api_key=KEYS["bob"], max_retries=0) as bob:
        with pytest.raises(NotFound):
            await bob.get(job.job_id)
        with pytest.raises(NotFound):
            await bob.cancel(job.job_id)
