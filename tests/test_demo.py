"""The pieces of ``tally demo`` that need no running services: its data dir, progress board and printed commands."""

from __future__ import annotations

import io
import shlex
from datetime import date
from pathlib import Path

import pytest

from tally.demo import DemoOptions, last_full_month_end, prepare_data_dir, ready_message
from tally.demo_progress import ProgressBoard, bar
from tally.settings import Settings


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 12, 2), date(2026, 11, 30)),
        (date(2026, 3, 31), date(2026, 2, 28)),
        (date(2024, 1, 1), date(2023, 12, 31)),
    ],
)
def test_the_printed_period_is_the_last_full_month(today: date, expected: date) -> None:
    assert last_full_month_end(today) == expected


def test_an_unfinished_demo_is_reset_but_its_keys_are_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "tally"
    (data_dir / "serving" / "acme").mkdir(parents=True)
    (data_dir / "warehouse.duckdb").write_text("old")
    (data_dir / "encryption.key").write_text("key")
    (data_dir / "notes.txt").write_text("not the demo's")

    reused = prepare_data_dir(Settings(_env_file=None, data_dir=data_dir), DemoOptions(companies=1, days=30))

    assert not reused
    assert "Resetting the demo data" in capsys.readouterr().out
    assert sorted(path.name for path in data_dir.iterdir()) == ["encryption.key", "notes.txt"]


def test_a_fresh_data_dir_is_said_to_be_fresh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert not prepare_data_dir(Settings(_env_file=None, data_dir=tmp_path / "tally"), DemoOptions())
    assert "Starting with fresh demo data" in capsys.readouterr().out


def test_the_three_curl_commands_carry_the_token_and_a_quoted_url(tmp_path: Path) -> None:
    message = ready_message("http://127.0.0.1:8000", None, "tok.en.x", "acme", Settings(data_dir=tmp_path))
    commands = [shlex.split(line) for line in message.splitlines() if line.strip().startswith("curl ")]
    assert [words[-1].split("?")[0] for words in commands] == [
        "http://127.0.0.1:8000/api/clients/acme/results",
        "http://127.0.0.1:8000/api/clients/acme/results/campaigns",
        "http://127.0.0.1:8000/api/clients/acme/results/campaigns/daily",
    ]
    assert all(words[:4] == ["curl", "-s", "-H", "Authorization: Bearer tok.en.x"] for words in commands)


def test_the_progress_board_prints_only_changed_lines_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    board = ProgressBoard(out)
    running = {"status": "running", "progress": {"meta_ads": _entry("running", 0), "marts": _marts("waiting")}}
    loaded = {"status": "running", "progress": {"meta_ads": _entry("succeeded", 30), "marts": _marts("running")}}
    done = {"status": "succeeded", "progress": {"meta_ads": _entry("succeeded", 30), "marts": _marts("succeeded")}}
    board.show({"acme": running})
    board.show({"acme": running})
    board.show({"acme": loaded})
    board.show({"acme": done})
    lines = out.getvalue().splitlines()
    assert lines == [
        f"acme      meta_ads    {bar(0, 30)}   0/30  partitions  loading",
        "acme      marts       waiting for the loads",
        f"acme      meta_ads    {bar(30, 30)}  30/30  partitions  loaded",
        "acme      marts       rebuilding",
        "acme      marts       published",
    ]


def test_a_bar_fills_in_proportion() -> None:
    assert bar(0, 0) == "[" + "." * 30 + "]"
    assert bar(15, 30) == "[" + "#" * 15 + "." * 15 + "]"


def _marts(status: str) -> dict[str, object]:
    return {"status": status, "partitions_done": int(status == "succeeded"), "partitions_total": 1, "error": None}


def _entry(status: str, done: int) -> dict[str, object]:
    return {"status": status, "partitions_done": done, "partitions_total": 30, "error": None}


def test_on_a_terminal_the_board_is_redrawn_in_place() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    board = ProgressBoard(out)
    board.show(
        {"acme": {"status": "running", "progress": {"meta_ads": _entry("running", 0), "marts": _marts("waiting")}}}
    )
    board.show(
        {"acme": {"status": "running", "progress": {"meta_ads": _entry("running", 0), "marts": _marts("running")}}}
    )
    first, second = out.getvalue().split("\x1b[2F")
    assert first.count("\x1b[2K") == 2 and second.count("\x1b[2K") == 2
    assert second.endswith("acme      marts       rebuilding\n")
