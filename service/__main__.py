"""`python -m service`: run the HTTP server (embedded PostgreSQL by default), or print a token."""

import argparse
import sys
import uuid

from pydantic import ValidationError

from service.config import get_settings, settings_problems

USER_HELP = "user UUID (default: the local user on the embedded default, else a new one)"
CONFIGURATION_ERROR = 2  # the exit status of a usage error, as argparse uses


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command line: `[serve] --host --port --workers` or `token --user UUID`."""
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the HTTP server (the default)")
    token = commands.add_parser("token", help="print a bearer token for a user")
    token.add_argument("--user", type=uuid.UUID, default=None, help=USER_HELP)
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds")
    for target in (parser, serve):
        target.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
        target.add_argument("--port", type=int, default=None, help="listen port (default 8000)")
        target.add_argument("--workers", type=int, default=None, help="worker processes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = get_settings()
    except ValidationError as error:
        print("\n".join(settings_problems(error)), file=sys.stderr)
        return CONFIGURATION_ERROR
    if args.command == "token":
        from service.cli import print_token

        return print_token(settings, args.user, args.ttl)
    from service.cli import serve

    return serve(settings, host=args.host, port=args.port, workers=args.workers)


if __name__ == "__main__":
    sys.exit(main())
