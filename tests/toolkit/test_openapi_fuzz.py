"""The control API against its own OpenAPI description, fuzzed by schemathesis:
no request the description allows may crash the server or get an undocumented answer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from esp_at_sim.control.openapi import openapi_document  # noqa: E402

from .conftest import TOKEN, start_runner, two_modules  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class ServerThread:
    def __init__(self) -> None:
        self.url = ""
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            data = two_modules(access_point=[{"ssid": "lab", "password": "password123"}])
            runner = await start_runner(data)
            self.url = runner.control_server.url
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await runner.stop()

        self.loop.run_until_complete(main())
        self.loop.close()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(60)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """The server runs in its own thread and closes its side of each connection on its own
    schedule; descriptor leaks of the control server are checked by the other control tests."""
    yield


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as s:
        yield s


schema = schemathesis.openapi.from_dict(openapi_document())


@schema.exclude(path="/api/events").parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_control_api_conforms(case: Any, server: ServerThread) -> None:
    if case.path == "/api/wait" and isinstance(case.body, dict):
        t = case.body.get("timeout")
        if isinstance(t, int | float) and not isinstance(t, bool) and t > 0.2:
            case.body["timeout"] = 0.2  # keep each wait short
    # The description gives shapes; the server also refuses values no radio or module can have
    # (channel 20, an empty SSID) with a 400, so "schema-valid means accepted" does not hold.
    case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
