"""Fixtures for ingest tests: the core's asset registry fixture."""

from tests.fleet.conftest import asset_ids

__all__ = ["asset_ids"]
