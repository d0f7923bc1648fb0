"""The ``tally`` command line. Subcommands import what they need when they run, so ``--help`` stays fast."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tally.settings import Settings


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.metrics import MULTIPROCESS_DIR
    from api.request_log import log_config

    settings = Settings()
    workers = args.workers or settings.api_workers
    with _metrics_folder(workers) as folder:
        if folder is not None:
            os.environ[MULTIPROCESS_DIR] = folder
        # An import string and a factory: each worker process builds its own app (and its own caches).
        uvicorn.run(
            "api.main:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=workers,
            timeout_graceful_shutdown=settings.api_shutdown_timeout_seconds,
            log_config=log_config(args.log_level),
            access_log=False,
        )
    return 0


@contextlib.contextmanager
def _metrics_folder(workers: int) -> Iterator[str | None]:
    """With several workers, a fresh folder for prometheus_client's multiprocess files, removed afterwards; a
    folder named by ``PROMETHEUS_MULTIPROC_DIR`` is used instead, emptied first (the client requires it)."""
    from api.metrics import MULTIPROCESS_DIR

    if workers == 1:
        yield None
        return
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        for leftover in Path(given).glob("*.db"):
            leftover.unlink()
        yield given
        return
    folder = tempfile.mkdtemp(prefix="tally-metrics-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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


def _positive(value: str) -> int:
    """An argument that must be a whole number of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


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
    api.add_argument("--workers", type=_positive, help="Worker processes (default TALLY_API_WORKERS, 1); one per core.")
    api.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
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
