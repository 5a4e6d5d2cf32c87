"""Equipment-client portal.

The package is importable without Flask: ``portal.models`` and ``portal.db`` are
plain SQLAlchemy and are shared with the ``ingest`` process. The Flask application
factory lives in :mod:`portal.app`.
"""
