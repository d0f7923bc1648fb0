"""``tally demo``: Tally end to end on one machine, with the platform emulator standing in for the platforms.

The emulator and the API run in this process; the Dagster daemon (and, unless ``--no-ui``, the webserver) run as
child processes in their own process groups. Companies are connected and backfilled through the real API
routes, the run_requests sensor launches the backfills, and the demo is ready once every company's marts are
published. All state lives under the data dir (``.tally/`` by default).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tally.settings import Settings

if TYPE_CHECKING:
    from tally.child_processes import ChildProcesses

COMPANY_NAMES = ["acme", "globex", "initech", "umbrella", "hooli"]
REPO_ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_SECONDS = 900
# What a reset removes; the demo's keys (encryption.key, jwt.secret) stay, so old tokens keep working.
DEMO_STATE = [
    *("app.db", "app.db-wal", "app.db-shm", "warehouse.duckdb", "warehouse.duckdb.wal"),
    *("serving", "dlt", "dagster", "logs"),
]
CODE_LOCATIONS_QUERY = (
    "{ workspaceOrError { __typename ... on Workspace "
    "{ locationEntries { name loadStatus locationOrLoadError { __typename } } } } }"
)


@dataclass(frozen=True)
class DemoOptions:
    """What ``tally demo`` was asked for."""

    ui: bool = True
    companies: int = 2
    days: int = 90
    api_port: int = 8000
    emulator_port: int = 8765
    dagster_port: int = 3000
    reset: bool = False

    @property
    def company_ids(self) -> list[str]:
        return COMPANY_NAMES[: self.companies]


def run_demo(settings: Settings, options: DemoOptions) -> int:
    """Start everything, load the demo companies, print how to query them, and serve until Ctrl-C."""
    from api.auth import mint_token
    from api.main import create_app
    from pipelines.emulator.app import create_emulator
    from tally.child_processes import ChildProcesses
    from warehouse.app_database import upgrade

    # Ctrl-C is how the demo stops, even when a shell started it in the background with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    data_dir = settings.data_dir.resolve()
    settings = settings.model_copy(update={"data_dir": data_dir})
    reused = prepare_data_dir(settings, options)
    stopping = False
    with ExitStack() as stack:
        emulator_url = serve(stack, create_emulator(), options.emulator_port, "emulator")
        settings = settings.point_platforms_at(emulator_url).with_demo_secrets()
        upgrade(settings.resolved_app_database_url)
        api_url = serve(stack, create_app(settings), options.api_port, "api", ready_path="/readyz")
        say(f"API:       {api_url}   (OpenAPI docs at {api_url}/docs)")
        say(f"Emulator:  {emulator_url}   (Meta, Google Ads, TikTok, Shopify and GA4 on one host)")
        children = stack.enter_context(ChildProcesses(data_dir / "logs"))
        try:
            ui_url = start_dagster(children, settings, emulator_url, options)
            token = mint_token(
                settings, "demo-user", ["clients:view", "clients:update"], options.company_ids, ttl_seconds=7 * 86400
            )
            with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
                connect_companies(api, options.company_ids)
                if not reused:
                    request_ids = request_backfills(api, options)
                    follow_progress(api, children, settings, request_ids)
            say(f"\nReady in {time.monotonic() - started:.0f} s.")
            say(ready_message(api_url, ui_url, token, options.company_ids[0], settings))
            wait_for_interrupt(children)
        except KeyboardInterrupt:
            stopping = True
        finally:
            say("\nStopping the Dagster processes, the API and the emulator..." if stopping else "Stopping...")
    say("Stopped.")
    return 0


def serve(stack: ExitStack, app: Any, port: int, name: str, ready_path: str | None = None) -> str:
    """Serve an ASGI app in a thread until the demo ends; its URL once ``ready_path`` (if any) answers 200. A busy
    port is a clear error, not a traceback."""
    from tally.background_server import NotReady, serve_in_thread

    try:
        return stack.enter_context(serve_in_thread(app, port=port, ready_path=ready_path))
    except NotReady as exc:
        raise DemoFailed(f"the {name} is not ready: {exc}") from None
    except RuntimeError:
        raise DemoFailed(
            f"could not serve the {name} on port {port}: is it in use? Pick another with --{name}-port"
        ) from None


def say(text: str) -> None:
    """Print a line of the demo's own output at once (a script may be reading it)."""
    print(text, flush=True)


def prepare_data_dir(settings: Settings, options: DemoOptions) -> bool:
    """Reuse a finished demo's data, or reset it; say which. True when the data is reused as it is."""
    data_dir = settings.data_dir
    finished = not options.reset and demo_is_loaded(settings, options)
    if finished:
        say(f"Reusing the demo data in {data_dir} (loaded earlier; `tally demo --reset` reloads it).")
        return True
    existing = [name for name in DEMO_STATE if (data_dir / name).exists()]
    if existing:
        reason = (
            "as asked" if options.reset else f"it does not hold a finished {options.days}-day load of these companies"
        )
        say(f"Resetting the demo data in {data_dir} ({reason}).")
        for name in existing:
            path = data_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    else:
        say(f"Starting with fresh demo data in {data_dir}.")
    data_dir.mkdir(parents=True, exist_ok=True)
    return False


def demo_is_loaded(settings: Settings, options: DemoOptions) -> bool:
    """Whether every demo company's latest backfill covered the asked days, succeeded, and was published."""
    import sqlalchemy as sa

    from warehouse import run_requests as outbox
    from warehouse.app_database import create_app_engine

    if not (settings.data_dir / "app.db").exists() or settings.app_database_url:
        return False
    engine = create_app_engine(settings.resolved_app_database_url)
    try:
        with engine.connect() as db:
            latest = {company: outbox.latest_backfill(db, company) for company in options.company_ids}
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return all(
        row is not None
        and row["status"] == "succeeded"
        and (row["days"] or 0) >= options.days
        and (settings.serving_dir / company / "CURRENT").exists()
        for company, row in latest.items()
    )


def dagster_environment(settings: Settings, emulator_url: str) -> dict[str, str]:
    """The environment of the Dagster processes: the demo's data dir, keys (read from files) and emulator."""
    dagster_home = settings.data_dir / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster_home" / "dagster.yaml", dagster_home / "dagster.yaml")
    return {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "TALLY_DATA_DIR": str(settings.data_dir),
        "TALLY_DEMO": "true",
        "TALLY_PLATFORM_BASE_URL": emulator_url,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }


def create_dagster_storage(dagster_home: Path) -> None:
    """Create the instance's SQLite storage before any Dagster process starts: two creating it at once collide
    ("table runs already exists")."""
    import dagster as dg

    dg.DagsterInstance.from_config(str(dagster_home)).dispose()


def start_dagster(children: ChildProcesses, settings: Settings, emulator_url: str, options: DemoOptions) -> str | None:
    """Start the stock daemon (the sensor, the schedule, the run queue, run monitoring) and, with the UI, the
    webserver; the UI's URL."""
    from tally.child_processes import free_port

    env = dagster_environment(settings, emulator_url)
    create_dagster_storage(Path(env["DAGSTER_HOME"]))
    bin_dir = Path(sys.executable).parent
    workspace = str(REPO_ROOT / "workspace.yaml")
    daemon = [str(bin_dir / "dagster-daemon"), "run", "-w", workspace]
    children.start("dagster-daemon", daemon, env, REPO_ROOT)
    if not options.ui:
        say("Dagster:   daemon started (no UI: --no-ui)")
        return None
    port = options.dagster_port or free_port()
    command = [str(bin_dir / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)]
    children.start("dagster-webserver", command, env, REPO_ROOT)
    ui_url = f"http://127.0.0.1:{port}"
    children.wait_for_url(f"{ui_url}/server_info", timeout_seconds=180)
    wait_for_code_location(children, ui_url)
    say(f"Dagster:   {ui_url}   (the UI; the daemon launches the runs)")
    return ui_url


def wait_for_code_location(children: ChildProcesses, ui_url: str, timeout_seconds: float = 180) -> None:
    """Wait until the webserver has loaded ``orchestration`` (a UI opened earlier shows no assets)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        children.check_alive()
        answer = httpx.post(f"{ui_url}/graphql", json={"query": CODE_LOCATIONS_QUERY}, timeout=10).json()
        entries = answer["data"]["workspaceOrError"].get("locationEntries") or []
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            errors = [e["name"] for e in entries if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
            if errors:
                raise DemoFailed(f"Dagster could not load {', '.join(errors)}; see {ui_url}/locations")
            return
        time.sleep(0.5)
    raise DemoFailed(f"the Dagster UI did not load the code location within {timeout_seconds:.0f} s")


def connect_companies(api: httpx.Client, companies: list[str]) -> None:
    """Connect each company to every platform's emulated account through the API, skipping existing ones."""
    from pipelines.emulator.accounts import emulator_credentials
    from pipelines.registry import PLATFORMS

    for seed, company in enumerate(companies, start=1):
        existing = {c["platform"] for c in _ok(api.get(f"/api/clients/{company}/connections"))["connections"]}
        for platform in PLATFORMS:
            if platform in existing:
                continue
            body = {
                "platform": platform,
                "credentials": emulator_credentials(platform, seed),
                "display_name": f"{company.title()} {platform}",
            }
            _ok(api.post(f"/api/clients/{company}/connections", json=body))
        say(f"Connected {company} to {', '.join(PLATFORMS)} (emulated accounts, through POST .../connections)")


def request_backfills(api: httpx.Client, options: DemoOptions) -> dict[str, str]:
    """Ask the API for a backfill of each company; the ids of the requests it wrote."""
    request_ids = {}
    for company in options.company_ids:
        _ok(api.post(f"/api/clients/{company}/connections/backfill", json={"days": options.days}))
        state = _ok(api.get(f"/api/clients/{company}/connections/backfill"))["backfill"]
        request_ids[company] = state["id"]
        say(f"Requested a {options.days}-day backfill of {company} (POST .../connections/backfill)")
    return request_ids


def follow_progress(
    api: httpx.Client, children: ChildProcesses, settings: Settings, request_ids: dict[str, str]
) -> None:
    """Show each company's steps (partitions done per platform, then its marts) until every request is final."""
    from tally.demo_progress import ProgressBoard

    board = ProgressBoard(sys.stdout)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        children.check_alive()
        states = {
            company: _ok(api.get(f"/api/clients/{company}/connections/backfill"))["backfill"] for company in request_ids
        }
        board.show(states)
        check_not_failed(states, settings)
        if all(state and state["status"] == "succeeded" for state in states.values()):
            board.done()
            return
        if time.monotonic() > deadline:
            raise DemoFailed(f"the data was not ready within {READY_TIMEOUT_SECONDS} s; see {settings.data_dir}/logs")
        time.sleep(1)


def check_not_failed(states: dict[str, Any], settings: Settings) -> None:
    """Stop waiting when a company's request failed: its error names the steps that failed and why."""
    for company, state in states.items():
        if state and state["status"] == "failed":
            raise DemoFailed(f"the backfill of {company} failed: {state['error']}; see {settings.data_dir}/logs")


def ready_message(api_url: str, ui_url: str | None, token: str, company: str, settings: Settings) -> str:
    """The token, three curl commands that work as printed, and where to look next."""
    period_end = last_full_month_end(datetime.now(UTC).date())
    query = f"period_type=month&period_end={period_end}"
    auth = f'-H "Authorization: Bearer {token}"'
    base = f"{api_url}/api/clients/{company}/results"
    ui = (
        f"Dagster UI: {ui_url}   (Assets, Runs, Overview > Backfills)"
        if ui_url
        else "Dagster UI: not started (--no-ui)"
    )
    return f"""
Tally demo is ready (data in {settings.data_dir}).
{ui}
API:        {api_url}   (OpenAPI docs at {api_url}/docs)

A token for the demo companies (valid 7 days):
  export TOKEN={token}

Results, campaigns and daily spend of {company} for the last full month:
  curl -s {auth} "{base}?{query}"
  curl -s {auth} "{base}/campaigns?{query}"
  curl -s {auth} "{base}/campaigns/daily?{query}&platform=meta_ads"

Press Ctrl-C to stop.
"""


def last_full_month_end(today: date) -> date:
    """The last day of the month before ``today``'s: a whole month the backfill has loaded."""
    return today.replace(day=1) - timedelta(days=1)


def wait_for_interrupt(children: ChildProcesses) -> None:
    """Serve until Ctrl-C (or SIGTERM), watching that the Dagster processes stay up."""
    while True:
        time.sleep(2)
        children.check_alive()


class DemoFailed(RuntimeError):
    """The demo could not get its data ready."""


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM stops the demo the way Ctrl-C does."""
    raise KeyboardInterrupt


def _ok(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a successful API answer, or an error naming the route and what the API said."""
    if response.is_error:
        raise DemoFailed(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response.json()
