"""``tally demo``: the platform emulator and the API on loopback, with a token that works against them."""

from __future__ import annotations

import threading
from contextlib import ExitStack

from tally.settings import Settings

DEMO_COMPANIES = ["acme", "globex"]


def run_demo(settings: Settings, ui: bool, api_port: int, emulator_port: int) -> int:
    """Start the emulator and the API, print how to call them, and serve until Ctrl-C."""
    from api.auth import mint_token
    from api.main import create_app
    from pipelines.emulator.app import create_emulator
    from tally.background_server import serve_in_thread
    from warehouse.app_database import upgrade

    with ExitStack() as stack:
        emulator_url = stack.enter_context(serve_in_thread(create_emulator(), port=emulator_port))
        settings = settings.point_platforms_at(emulator_url).with_demo_secrets()
        upgrade(settings.resolved_app_database_url)
        api_url = stack.enter_context(serve_in_thread(create_app(settings), port=api_port))
        token = mint_token(
            settings, "demo-user", ["clients:view", "clients:update"], DEMO_COMPANIES, ttl_seconds=7 * 24 * 3600
        )
        print(_instructions(api_url, emulator_url, token, settings), flush=True)
        if ui:
            print("(the Dagster UI joins the demo with the orchestration work; see README)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping the API and the emulator", flush=True)
    return 0


def _instructions(api_url: str, emulator_url: str, token: str, settings: Settings) -> str:
    company = DEMO_COMPANIES[0]
    return f"""
Tally demo is running (data in {settings.data_dir.resolve()}).
  API:       {api_url}   (OpenAPI docs at {api_url}/docs)
  Emulator:  {emulator_url}   (Meta, Google Ads, TikTok, Shopify and GA4 on one host)

A token for companies {", ".join(DEMO_COMPANIES)} (valid 7 days):
  export TOKEN={token}

Try:
  curl -s -H "Authorization: Bearer $TOKEN" {api_url}/api/clients/platforms
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
       -d '{{"platform":"meta_ads","credentials":{{"access_token":"demo-token","ad_account_id":"1234567"}}}}' \\
       {api_url}/api/clients/{company}/connections
  curl -s -H "Authorization: Bearer $TOKEN" {api_url}/api/clients/{company}/connections

Press Ctrl-C to stop.
"""
