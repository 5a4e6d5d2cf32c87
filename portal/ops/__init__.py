"""What operators watch: liveness and readiness probes, request ids on log lines."""
