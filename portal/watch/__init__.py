"""Sensor warnings: the watch board and the watch item page."""
