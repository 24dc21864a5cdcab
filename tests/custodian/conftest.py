"""Fixtures of the custodian tests: a real PostgreSQL server (session-scoped)."""

from __future__ import annotations

from helpers.postgres import postgres_server

__all__ = ["postgres_server"]
