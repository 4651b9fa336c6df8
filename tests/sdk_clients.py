"""SDK clients opened by a test and closed after it (the autouse fixture in conftest.py closes them),
so no test leaks sockets into the next one under `filterwarnings = error`."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

_OPEN: list[Any] = []


def track(client: T) -> T:
    """Registers `client` (anything with `close()`) to be closed when the current test ends."""
    _OPEN.append(client)
    return client


def close_all() -> None:
    while _OPEN:
        _OPEN.pop().close()
