"""JSON API (``/api/v1``), scoped by the same access rule as the pages."""
