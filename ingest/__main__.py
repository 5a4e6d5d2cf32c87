"""``python -m ingest``: run the ingester; ``--check`` tests its dependencies;
``--dead-letters N`` prints the newest rejected messages."""

from __future__ import annotations

import argparse
import sys

from config import ConfigError, load_settings
from fleet.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    parser.add_argument("--check", action="store_true", help="check broker, InfluxDB and database, then exit")
    parser.add_argument("--dead-letters", type=int, metavar="N", help="print the N newest rejected messages")
    parser.add_argument("--reason", help="with --dead-letters: only this reason")
    parser.add_argument("--client-id", help="MQTT client id (default MQTT_CLIENT_ID)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        settings.check_production()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    configure_logging(settings.log_level, settings.log_format)

    if args.check:
        from ingest.service import check

        results = check(settings)
        for name, ok, detail in results:
            print(f"{'ok  ' if ok else 'FAIL'} {name:<9} {detail}")  # noqa: T201
        return 0 if all(ok for _, ok, _ in results) else 1

    if args.dead_letters:
        from fleet.db import Database
        from ingest.deadletters import recent

        db = Database(settings.database_url)
        with db.session() as session:
            for row in recent(session, args.dead_letters, args.reason):
                print(f"{row.received_at:%Y-%m-%d %H:%M:%S} {row.reason:<14} {row.topic}  {row.detail}")  # noqa: T201
                print(f"    {row.payload[:200]}")  # noqa: T201
        db.dispose()
        return 0

    from ingest.service import Ingester

    Ingester(settings, client_id=args.client_id).run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
