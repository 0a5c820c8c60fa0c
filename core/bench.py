"""The benchmark harness behind 'apps bench'. Filled in by the shared-core work."""

from __future__ import annotations

from core.errors import NotAvailableError


def bench_params() -> list:
    return []


def bench_from_cli(app, **options):
    raise NotAvailableError("'apps bench' is not available yet.", hint="it arrives with the shared-core work.")
