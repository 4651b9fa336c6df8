"""Real Redis servers for the tests: standalone instances and a 3-master cluster on loopback.

Each server runs `redis-server` from PATH in its own temporary directory, on a free loopback port, with
persistence off (`--save '' --appendonly no`). Servers can be stopped, restarted on the same port, frozen
(SIGSTOP) and thawed (SIGCONT), which is what the fail-open tests need. Nothing here talks to anything but
127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis
import redis.cluster

HOST = "127.0.0.1"


def have_redis() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port(*, cluster: bool = False) -> int:
    """A free loopback port; for a cluster node also its bus port (+10000), so at most 55535."""
    while True:
        if not cluster:
            with socket.socket() as s:
                s.bind((HOST, 0))
                return int(s.getsockname()[1])
        port = random.randint(20000, 45000)
        if _bindable(port) and _bindable(port + 10000):
            return port


def _wait_ping(port: int, deadline: float, proc: subprocess.Popen[bytes], password: str | None = None) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited with {proc.returncode}")
        try:
            with redis.Redis(
                host=HOST, port=port, password=password, socket_timeout=0.5, socket_connect_timeout=0.5
            ) as c:
                if c.ping():
                    return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
        # Startup poll of a child process (test fixture only; the library never polls).
        time.sleep(0.02)


class RedisServer:
    """One `redis-server` process on a loopback port it keeps across restarts."""

    def __init__(self, *, cluster: bool = False, port: int | None = None, password: str | None = None) -> None:
        self.port = port or free_port(cluster=cluster)
        self.cluster = cluster
        self.password = password
        self.dir = tempfile.mkdtemp(prefix=f"promptkey-redis-{self.port}-")
        self.proc: subprocess.Popen[bytes] | None = None
        self._raw: redis.Redis | None = None
        self.start()

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{HOST}:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        args += ["--dir", self.dir, "--protected-mode", "no", "--loglevel", "warning"]
        if self.cluster:
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
            ]
        log = open(os.path.join(self.dir, "redis.log"), "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        log.close()
        _wait_ping(self.port, time.monotonic() + 10, self.proc, self.password)

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    @property
    def raw(self) -> redis.Redis:
        """A plain client for assertions, closed with the server."""
        if self._raw is None:
            self._raw = self.client()
        return self._raw

    def client(self, **kwargs: object) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port, password=self.password, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisCluster:
    """A 3-master Redis Cluster (no replicas) created with `redis-cli --cluster create`."""

    def __init__(self, masters: int = 3) -> None:
        self._raw: redis.cluster.RedisCluster | None = None
        self.nodes = [RedisServer(cluster=True) for _ in range(masters)]
        addrs = [f"{HOST}:{n.port}" for n in self.nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        for node in self.nodes:
            while True:
                # redis-py leaves execute_command unannotated; the reply is bytes here (no decode_responses).
                info = node.client().execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
                text = info.decode() if isinstance(info, bytes) else str(info)
                if "cluster_state:ok" in text:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster did not converge: {text}")
                time.sleep(0.05)  # fixture startup poll only

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.nodes[0].port}/0"

    @property
    def raw(self) -> redis.cluster.RedisCluster:
        """A plain cluster client for assertions, closed with the cluster."""
        if self._raw is None:
            self._raw = redis.cluster.RedisCluster.from_url(self.url)
        return self._raw

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        for node in self.nodes:
            node.close()


@contextlib.contextmanager
def running_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.close()
