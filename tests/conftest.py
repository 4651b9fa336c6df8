"""Shared pytest fixtures. Redis fixtures (real servers on loopback) live in tests/redis_servers.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from redis_servers import RedisCluster, RedisServer, have_redis
from sdk_clients import close_all


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A standalone redis-server shared by the session (tests isolate themselves by namespace)."""
    if not have_redis():
        pytest.skip("redis-server not on PATH")
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A standalone redis-server for one test, which may stop, restart, freeze or thaw it."""
    if not have_redis():
        pytest.skip("redis-server not on PATH")
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A real 3-master Redis Cluster on loopback, shared by the session."""
    if not have_redis():
        pytest.skip("redis-server not on PATH")
    cluster = RedisCluster()
    yield cluster
    cluster.close()


@pytest.fixture
def ns() -> str:
    """A namespace no other test uses, so tests can share one server."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    """Closes the SDK clients a test registered with `sdk_clients.track`."""
    yield
    close_all()
