"""The README's configuration table, generated from ``Settings`` so the two cannot drift.

``python -m tally.settings_table`` rewrites the table in README.md; with ``--check`` it only exits 1 when the
table is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from tally.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
PLATFORM_NAMES = {
    "meta_ads": "Meta Marketing (Graph) API",
    "google_ads": "Google Ads API",
    "tiktok_ads": "TikTok API for Business",
    "shopify": "Shopify Admin API",
    "ga4": "GA4 Data API",
    "ga4_admin": "GA4 Admin API",
}


def environment_variable(name: str, field: FieldInfo) -> str:
    """The variable a field is read from: its alias when it has one (``OPENAI_API_KEY``), else ``TALLY_<NAME>``."""
    if isinstance(field.validation_alias, AliasChoices):
        return str(field.validation_alias.choices[0])
    return f"TALLY_{name.upper()}"


def meaning(name: str, field: FieldInfo) -> str:
    """The field's description; platform URLs and versions, which have none, are named after their platform."""
    if field.description:
        return field.description
    for suffix, what in (("_base_url", "Base URL of the"), ("_api_version", "Version of the")):
        if name.endswith(suffix) and name.removesuffix(suffix) in PLATFORM_NAMES:
            return f"{what} {PLATFORM_NAMES[name.removesuffix(suffix)]}."
    return ""


def default(field: FieldInfo) -> str:
    """The field's default as the table shows it: ``none`` when it has none, JSON for lists and dicts."""
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def markdown_table() -> str:
    """One row per setting: variable, default, meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        text = meaning(name, field).replace("|", "\\|")
        rows.append(f"| `{environment_variable(name, field)}` | {default(field)} | {text} |")
    return "\n".join(rows)


def with_table(readme: str) -> str:
    """The README text with the generated table between its markers."""
    before, _, rest = readme.partition(START)
    _, _, after = rest.partition(END)
    if not rest:
        raise SystemExit(f"README.md has no {START} marker")
    return f"{before}{START}\n{markdown_table()}\n{END}{after}"


def main(argv: list[str]) -> int:
    """Rewrite the README's table, or with ``--check`` report whether it is up to date."""
    current = README.read_text()
    wanted = with_table(current)
    if "--check" in argv:
        if current != wanted:
            print("README.md's configuration table is out of date: run python -m tally.settings_table")
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
