"""Optional Prometheus metrics (the `promptkey[prometheus]` extra): calls by status, store errors, latency."""

from __future__ import annotations

from typing import Any

__all__ = ["enable_prometheus", "observe", "store_error"]

_calls: Any = None
_errors: Any = None
_latency: Any = None


def enable_prometheus(registry: Any = None) -> None:
    """Record every ResponseCache call in `registry` (prometheus_client's default registry when None).

    Metrics: `promptkey_cache_calls_total{namespace,status}`, `promptkey_cache_store_errors_total{namespace}`
    and `promptkey_cache_call_seconds{status}` (a histogram of the whole call, model time included).
    Raises ImportError naming the extra when prometheus_client is not installed.
    """
    global _calls, _errors, _latency
    try:
        import prometheus_client as pc
    except ImportError as e:  # pragma: no cover - the extra is installed in CI
        raise ImportError("metrics need the prometheus extra: pip install 'promptkey[prometheus]'") from e
    kw: dict[str, Any] = {} if registry is None else {"registry": registry}
    _calls = pc.Counter("promptkey_cache_calls", "ResponseCache calls by status", ["namespace", "status"], **kw)
    _errors = pc.Counter("promptkey_cache_store_errors", "ResponseCache store failures", ["namespace"], **kw)
    _latency = pc.Histogram("promptkey_cache_call_seconds", "ResponseCache call latency", ["status"], **kw)


def observe(namespace: str, status: str, seconds: float) -> None:
    if _calls is not None:
        _calls.labels(namespace, status).inc()
        _latency.labels(status).observe(seconds)


def store_error(namespace: str) -> None:
    if _errors is not None:
        _errors.labels(namespace).inc()


def enabled() -> bool:
    return _calls is not None
