"""The README's configuration table is the one ``Settings`` generates: every setting, its variable and default."""

from __future__ import annotations

from tally.settings import Settings
from tally.settings_table import README, markdown_table, with_table


def test_the_readme_table_is_up_to_date() -> None:
    readme = README.read_text()
    assert with_table(readme) == readme, "README.md is out of date: run python -m tally.settings_table"


def test_every_setting_has_a_row_that_says_what_it_means() -> None:
    rows = markdown_table().splitlines()[2:]
    assert len(rows) == len(Settings.model_fields)
    assert all(not row.endswith("|  |") for row in rows)
    assert "| `TALLY_DATA_DIR` | `.tally` |" in markdown_table()
