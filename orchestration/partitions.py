"""The partitions every platform asset shares: client (dynamic) x local day, and the one helper that reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from tally.settings import Settings

CLIENTS = "clients"

clients_partitions_def = dg.DynamicPartitionsDefinition(name=CLIENTS)
# end_offset=1 so that "yesterday" in a time zone ahead of UTC (today in UTC) is already a partition.
daily_partitions_def = dg.DailyPartitionsDefinition(
    start_date=Settings().history_start.isoformat(), end_offset=1, timezone="UTC"
)
client_day_partitions_def = dg.MultiPartitionsDefinition(
    {"client": clients_partitions_def, "date": daily_partitions_def}
)


@dataclass(frozen=True)
class ClientDays:
    """One client's contiguous range of local days: what one platform run loads."""

    company_id: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def partition_key(company_id: str, day: date) -> dg.MultiPartitionKey:
    """The partition of one client's day."""
    return dg.MultiPartitionKey({"client": company_id, "date": day.isoformat()})


def client_days(context: dg.AssetExecutionContext) -> ClientDays:
    """The client and date range of a run, from one partition key or a single-run backfill's range.

    A run may carry its partition as a plain string (``acme|2026-09-01``); the partitions definition parses it.
    Every key of one run must belong to one client, since credentials and dlt state are per client.
    """
    keys = [
        client_day_partitions_def.get_partition_key_from_str(key) if isinstance(key, str) else key
        for key in context.partition_keys
    ]
    companies = {key.keys_by_dimension["client"] for key in keys}
    if len(companies) != 1:
        raise dg.Failure(f"a run must cover exactly one client, got {len(companies)}")
    days = sorted(date.fromisoformat(key.keys_by_dimension["date"]) for key in keys)
    return ClientDays(companies.pop(), days[0], days[-1])
