"""Equipment-client portal.

The package is importable without Flask: ``fleet.models`` and ``fleet.db`` are
plain SQLAlchemy and are shared with the ``ingest`` process. The Flask application
factory lives in :mod:`portal.app`.
"""
