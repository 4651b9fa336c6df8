"""Shared pytest fixtures. Redis fixtures (real servers on loopback) live in tests/redis_servers.py."""
