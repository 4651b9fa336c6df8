"""Stampede protection: the in-process single flight and the cross-process Redis lock protocol.

Redis layout for a key `ns:v1:<hex>` (the hex digest is the hash tag, so all three share a cluster slot):

    ns:v1:{<hex>}        the value (a JSON envelope), SET ... PX ttl
    ns:v1:{<hex>}:lock   the lock: a random 128-bit owner token, SET ... NX PX lock_ttl
    ns:v1:{<hex>}:ready  the wake-up list: one element, pushed when the value lands or the lock is released

Every step that reads and then writes runs as one server-side script, so no decision is made on a stale
read: taking the lock re-checks the value, releasing and extending compare the owner token, and the write of
the value releases the lock (only if still ours) and wakes waiters in the same step. Waiters block on
`BLMOVE ready ready LEFT RIGHT` (a rotation: the element stays for the next waiter), so every waiter wakes
on one push; taking the lock clears the list, so an element is never older than the lock it announces.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

__all__ = ["ACQUIRE", "DELETE", "EXTEND", "RELEASE", "WRITE", "Flight", "Flights"]

# KEYS: value, lock, ready. ARGV: token, lock_ms, seen, has_seen.
# Returns {0, value} when a value is there (other than the unreadable one the caller saw), {1, ""} when the
# lock was taken, {2, pttl} when another owner holds it.
ACQUIRE = """
local v = redis.call('GET', KEYS[1])
if v and (ARGV[4] == '0' or v ~= ARGV[3]) then return {0, v} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('DEL', KEYS[3])
  return {1, ''}
end
return {2, redis.call('PTTL', KEYS[2])}
"""

# KEYS: value, lock, ready. ARGV: envelope, ttl_ms, token ('' when the writer holds no lock), ready_ms.
WRITE = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('DEL', KEYS[3])
redis.call('RPUSH', KEYS[3], '1')
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 1
"""

# KEYS: lock, ready. ARGV: token, ready_ms. Only the owner deletes the lock (and then wakes the waiters,
# who retry it); a lock held by anyone else is left alone.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('DEL', KEYS[2])
  redis.call('RPUSH', KEYS[2], '1')
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lock. ARGV: token, lock_ms.
EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: value, ready. A stale wake-up element must not outlive the value it announced.
DELETE = """
local n = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
return n
"""


class Flight:
    """One in-process computation of a key; followers wait on `future` (thread- and asyncio-safe)."""

    __slots__ = ("future", "thread")

    def __init__(self) -> None:
        self.future: Future[Any] = Future()
        self.thread = threading.get_ident()


class Flights:
    """The in-flight computations of one store object, by store key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Flight] = {}

    def join_or_lead(self, skey: str) -> tuple[Flight, bool]:
        with self._lock:
            flight = self._flights.get(skey)
            if flight is not None:
                return flight, False
            flight = self._flights[skey] = Flight()
            return flight, True

    def done(self, skey: str, flight: Flight) -> None:
        with self._lock:
            if self._flights.get(skey) is flight:
                del self._flights[skey]

    def __len__(self) -> int:
        return len(self._flights)
