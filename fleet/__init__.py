"""The shared core of the two kinds of process (the ingester and the portal).

Plain Python over SQLAlchemy, paho-mqtt and urllib3, no Flask:

- :mod:`fleet.db` — engine, sessions, the declarative base, the one clock (``utcnow``);
- :mod:`fleet.models` — the typed models; :mod:`fleet.schema` and ``fleet/migrations`` — Alembic;
- :mod:`fleet.status` — device statuses → live status, outages and maintenance periods;
- :mod:`fleet.live` — the live-event type and :func:`fleet.live.announce`;
- :mod:`fleet.mqtt` — broker address and a configured paho client;
- :mod:`fleet.telemetry_schema` — InfluxDB measurements, field names and auth header.
"""
