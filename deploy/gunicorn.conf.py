"""gunicorn settings for the portal: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Threads, not processes, carry the long-lived Socket.IO connections (Flask-SocketIO's
threading mode); several workers need ``SOCKETIO_MESSAGE_QUEUE`` (Redis) and sticky
sessions at the proxy (see deploy/nginx). With ``PROMETHEUS_MULTIPROC_DIR`` set, each
worker's metrics files are cleaned up when it exits.
"""

import os

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PORTAL_WORKERS", "2"))
threads = int(os.environ.get("PORTAL_THREADS", "256"))
graceful_timeout = 20
timeout = 60
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(_server, worker):  # type: ignore[no-untyped-def]
    """Drop an exited worker's live gauges from the multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
