"""API tokens: created and revoked by their owner, used as ``Authorization: Bearer …``."""
