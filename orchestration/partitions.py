"""The partitions of Tally's assets: clients (dynamic), and client x local day for the raw platform tables.

Every asset partitioned by client (the marts, the weekly insight, and the client dimension of the raw tables)
shares the ``clients`` dynamic partitions. The raw tables' clients are split across ``TALLY_CLIENT_SHARDS``
assets per table by a stable hash of the company id: shard ``k`` of a table is its own asset, and a client's days
are materialized on its shard's asset only. Why: the asset page's partition status (Dagster's
``assetPartitionStatuses``) and a backfill's launch cost about what one asset has materialized, key by key (it
parses and validates every materialized ``client|day`` key; ``bench/partitions.py``), so sharding keeps that at
about ``clients / shards`` clients' history. The shards keep the one ``clients`` dimension because the marts'
``MultiToSingleDimensionPartitionMapping`` needs the client dimension to be the marts' own partitions. With one
shard the raw assets keep the unsharded keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import dagster as dg

from tally.settings import Settings

CLIENTS = "clients"
CLIENT_SHARDS = Settings().client_shards

clients_partitions_def = dg.DynamicPartitionsDefinition(name=CLIENTS)
# end_offset=1 so that "yesterday" in a time zone ahead of UTC (today in UTC) is already a partition.
daily_partitions_def = dg.DailyPartitionsDefinition(
    start_date=Settings().history_start.isoformat(), end_offset=1, timezone="UTC"
)


def client_shard(company_id: str, shards: int = CLIENT_SHARDS) -> int:
    """The shard of a client's raw assets: blake2b of the company id modulo the shard count, the same in every
    process and release (Python's own ``hash`` of a string changes per process)."""
    digest = hashlib.blake2b(company_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_name(shard: int, shards: int = CLIENT_SHARDS) -> str | None:
    """The name of a shard (``clients_03``), or None when there is one shard and nothing is split."""
    return None if shards == 1 else f"{CLIENTS}_{shard:0{len(str(shards - 1))}d}"


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
