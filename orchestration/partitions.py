"""The partitions of Tally's assets: clients (dynamic), and client x local day for the raw platform tables.

With one shard (``TALLY_CLIENT_SHARDS=1``, the default) every client-partitioned asset shares the ``clients``
dynamic partitions: the raw tables are partitioned by ``clients`` x day, the marts and the weekly insight by
``clients``.

With N shards, a client belongs to shard ``blake2b(company id) mod N``, and the raw tables and the marts are split
into one asset per shard, each partitioned by that shard's own dynamic partitions (``clients_03``), which hold that
shard's clients only. Why the client dimension is the shard's own, not ``clients``: what Dagster does with an
asset's partitions costs about the asset's whole partition space or its materialized keys. The asset page's
partition status parses every materialized ``client|day`` key, and launching a partition backfill from the asset
page validates the selection against every key of the asset's partitions definition
(``subset_with_all_partitions``): with the shared ``clients`` dimension that is every client x every day (535,220
keys at 500 clients since 2024), about 4-8 s however few days are asked for. A shard's own dimension keeps both
at about ``clients / N`` clients' (``bench/partitions.py``). The marts are split the same way because Dagster maps
a raw table's (client, day) partitions to a client's marts only when the client dimension is the marts' own
partitions (``MultiToSingleDimensionPartitionMapping``). ``clients`` keeps every client, for the weekly insight.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache

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


@cache
def shard_clients_def(shard: int, shards: int = CLIENT_SHARDS) -> dg.DynamicPartitionsDefinition:
    """The client partitions of a shard's assets: its own dynamic partitions, or ``clients`` with one shard."""
    name = shard_name(shard, shards)
    return clients_partitions_def if name is None else dg.DynamicPartitionsDefinition(name=name)


@cache
def shard_client_day_def(shard: int, shards: int = CLIENT_SHARDS) -> dg.MultiPartitionsDefinition:
    """The (client, day) partitions of a shard's raw assets."""
    return dg.MultiPartitionsDefinition({"client": shard_clients_def(shard, shards), "date": daily_partitions_def})


def client_partitions_name(company_id: str, shards: int = CLIENT_SHARDS) -> str:
    """The dynamic partitions a client's raw days and marts are keyed in: its shard's, or ``clients``."""
    return shard_name(client_shard(company_id, shards), shards) or CLIENTS


def add_clients(instance: dg.DagsterInstance, companies: Iterable[str], shards: int = CLIENT_SHARDS) -> list[str]:
    """Add clients to ``clients`` and to their shard's partitions, where they are missing; returns those added.

    Only the clients not yet in ``clients`` are added to their shards, so a tick reads one list. A client already
    in ``clients`` whose shard lacks it (the shard count changed) is added by its next refresh
    (``ensure_client_partition``)."""
    known = set(instance.get_dynamic_partitions(CLIENTS))
    new = [company for company in companies if company not in known]
    if not new:
        return []
    instance.add_dynamic_partitions(CLIENTS, new)
    by_shard: dict[str, list[str]] = defaultdict(list)
    for company in new:
        name = client_partitions_name(company, shards)
        if name != CLIENTS:
            by_shard[name].append(company)
    for name, members in by_shard.items():
        instance.add_dynamic_partitions(name, members)
    return new


def ensure_client_partition(instance: dg.DagsterInstance, company_id: str, shards: int = CLIENT_SHARDS) -> None:
    """Make sure a client is a partition of its shard's assets before its days are recorded on them."""
    name = client_partitions_name(company_id, shards)
    if not instance.has_dynamic_partition(name, company_id):
        instance.add_dynamic_partitions(name, [company_id])
    if name != CLIENTS and not instance.has_dynamic_partition(CLIENTS, company_id):
        instance.add_dynamic_partitions(CLIENTS, [company_id])


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

    A run may carry its partition as a plain string (``acme|2026-09-01``); a partitions definition parses it
    (every shard's has the same two dimensions). Every key of one run must belong to one client, since
    credentials and dlt state are per client.
    """
    keys = [
        shard_client_day_def(0).get_partition_key_from_str(key) if isinstance(key, str) else key
        for key in context.partition_keys
    ]
    companies = {key.keys_by_dimension["client"] for key in keys}
    if len(companies) != 1:
        raise dg.Failure(f"a run must cover exactly one client, got {len(companies)}")
    days = sorted(date.fromisoformat(key.keys_by_dimension["date"]) for key in keys)
    return ClientDays(companies.pop(), days[0], days[-1])
