"""The `cybermarket` command: operator tasks beside `twistd cybermarket`."""

import argparse
import sys

from cybermarket.options import DEFAULT_DATABASE


def _invite(args):
    from cybermarket import database
    from cybermarket.handlers import invitations

    database.upgrade(args.database)
    db = database.Database(args.database, threads=1)
    try:
        code = db.run_sync("invite", invitations.create, (None, args.days))
    finally:
        db.stop()
    print(f"Invitation code (valid {args.days:g} days, inviter nil):")
    print(code)


def _db_upgrade(args):
    from cybermarket import database

    database.upgrade(args.database)
    print(f"schema at revision {database.head_revision(args.database)}")


def _db_current(args):
    from cybermarket import database

    engine = database.make_engine(args.database)
    try:
        with engine.connect() as conn:
            current = database.current_revision(conn)
    finally:
        engine.dispose()
    head = database.head_revision(args.database)
    print(f"current: {current}  newest: {head}")
    return 0 if current == head else 1


def parser():
    top = argparse.ArgumentParser(
        prog="cybermarket",
        description="Operator commands for the cybermarket server "
        "(the server itself runs as `twistd -n cybermarket`).",
    )
    commands = top.add_subparsers(dest="command", required=True)

    def with_database(p):
        p.add_argument(
            "--database",
            default=DEFAULT_DATABASE,
            help=f"SQLAlchemy database URL (default: {DEFAULT_DATABASE})",
        )
        return p

    invite = with_database(
        commands.add_parser("invite", help="print a new operator invitation code")
    )
    invite.add_argument(
        "--days", type=float, default=7.0, help="days until the code expires (default 7)"
    )
    invite.set_defaults(run=_invite)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    with_database(
        db_commands.add_parser("upgrade", help="bring the schema to the newest revision")
    ).set_defaults(run=_db_upgrade)
    with_database(
        db_commands.add_parser("current", help="show the schema revision")
    ).set_defaults(run=_db_current)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
