"""Live push: Socket.IO channels fed by the ingester's MQTT live events."""
