"""The ``tally`` command line. Subcommands import what they need when they run, so ``--help`` stays fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from tally.settings import Settings


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.main import create_app

    uvicorn.run(create_app(Settings()), host=args.host, port=args.port, log_level="info")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    import uvicorn

    from pipelines.emulator.app import create_emulator

    uvicorn.run(create_emulator(), host=args.host, port=args.port, log_level="warning")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from warehouse.app_database import upgrade

    settings = Settings()
    upgrade(settings.resolved_app_database_url)
    print(f"app database is up to date ({_safe_url(settings.resolved_app_database_url)})")
    return 0


def _keys_generate(args: argparse.Namespace) -> int:
    from warehouse.vault import generate_key

    print(generate_key())
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    from warehouse.app_database import create_app_engine
    from warehouse.vault import CredentialVault, rotate_all

    settings = Settings().with_demo_secrets()
    count = rotate_all(create_app_engine(settings.resolved_app_database_url), CredentialVault.from_settings(settings))
    print(f"re-encrypted {count} connection credentials under the first key")
    return 0


def _token(args: argparse.Namespace) -> int:
    from api.auth import mint_token

    settings = Settings().with_demo_secrets()
    print(mint_token(settings, args.sub, _split(args.permissions), _split(args.companies), args.ttl))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from tally.child_processes import ChildExited
    from tally.demo import DemoFailed, DemoOptions, run_demo

    options = DemoOptions(
        ui=not args.no_ui,
        companies=args.companies,
        days=args.days,
        api_port=args.api_port,
        emulator_port=args.emulator_port,
        dagster_port=args.dagster_port,
        reset=args.reset,
    )
    try:
        return run_demo(Settings(demo=True), options)
    except (DemoFailed, ChildExited) as exc:
        print(f"tally demo: {exc}", file=sys.stderr)
        return 1


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="tally", description="Tally: every client's marketing results in one place.")
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    api = add("api", _api, "Serve the REST API with uvicorn.")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    emulator = add("emulator", _emulator, "Serve the five platforms' emulated APIs.")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8765)
    demo = add("demo", _demo, "Run the emulator, the API and the Dagster UI with demo data.")
    demo.add_argument("--no-ui", action="store_true", help="Do not start the Dagster UI (the daemon still runs).")
    demo.add_argument("--companies", type=int, choices=range(1, 6), default=2, help="Demo companies (1-5).")
    demo.add_argument("--days", type=int, choices=(30, 60, 90), default=90, help="Days each backfill loads.")
    demo.add_argument("--reset", action="store_true", help="Start over instead of reusing loaded demo data.")
    demo.add_argument("--api-port", type=int, default=8000, help="0 picks a free port.")
    demo.add_argument("--emulator-port", type=int, default=8765, help="0 picks a free port.")
    demo.add_argument("--dagster-port", type=int, default=3000, help="Port of the Dagster UI; 0 picks a free port.")

    db = add("db", lambda a: 2, "App database commands.")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="Apply every pending migration.").set_defaults(handler=_db_upgrade)

    keys = add("keys", lambda a: 2, "Encryption key commands.")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser("generate", help="Print a new encryption key.").set_defaults(handler=_keys_generate)
    key_commands.add_parser("rotate", help="Re-encrypt every credential under the first key.").set_defaults(
        handler=_keys_rotate
    )

    token = add("token", _token, "Print a signed API token for local use.")
    token.add_argument("--sub", required=True, help="User id.")
    token.add_argument("--permissions", default="clients:view,clients:update")
    token.add_argument("--companies", required=True, help="Comma-separated company ids, or *.")
    token.add_argument("--ttl", type=int, default=3600, help="Seconds until the token expires.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tally`` command."""
    from tally.errors import TallyError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except TallyError as exc:
        print(f"tally: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
