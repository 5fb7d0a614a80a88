"""The supervisor gives services the grace their in-flight work is promised."""

from __future__ import annotations

from streams.config.settings import Settings
from streams.stack.supervisor import service_stop_timeout


def test_services_get_their_shutdown_grace_before_a_kill() -> None:
    settings = Settings(runtime={"shutdown_grace_s": 25}, stack={"stop_timeout_s": 10})
    assert service_stop_timeout(settings) == 35
    assert service_stop_timeout(settings) > settings.runtime.shutdown_grace_s
