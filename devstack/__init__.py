"""Local stack for development, demos and tests: starts real servers on loopback ports.

Used by ``make run`` (:mod:`devstack.run`) and by the test fixtures. Not used in
production, where the broker, InfluxDB and PostgreSQL are managed services.
"""
