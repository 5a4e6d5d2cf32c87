"""Telemetry ingest: MQTT → validated readings → batched InfluxDB writes, status → SQL outages.

A standalone process (``python -m ingest``). It never imports Flask; it shares the
SQLAlchemy models (:mod:`fleet.models`) and settings (:mod:`config`) with the portal.
"""
