"""Credentials that work against the emulator, for the demo, the benchmarks and tests.

Any non-empty token is valid there; ``seed`` picks the account, so two companies get different data.
"""

from __future__ import annotations

from typing import Any


def emulator_credentials(platform: str, seed: int = 1) -> dict[str, Any]:
    """Credentials of one emulated account of a platform."""
    digits = f"{seed:04d}"
    return {
        "meta_ads": {"access_token": f"demo-meta-{digits}", "ad_account_id": f"10{digits}"},
        "google_ads": {
            "developer_token": f"demo-dev-{digits}",
            "client_id": "demo-client.apps.googleusercontent.com",
            "client_secret": f"demo-secret-{digits}",
            "refresh_token": f"demo-refresh-{digits}",
            "customer_id": f"123456{digits}",
        },
        "tiktok_ads": {"access_token": f"demo-tiktok-{digits}", "advertiser_id": f"70000000000{digits}"},
        "shopify": {"store_url": f"demo-store-{digits}.myshopify.com", "access_token": f"shpat_demo{digits}"},
        "ga4": {
            "property_id": f"30{digits}",
            "client_id": "demo-client.apps.googleusercontent.com",
            "client_secret": f"demo-secret-{digits}",
            "refresh_token": f"demo-refresh-{digits}",
        },
    }[platform]
