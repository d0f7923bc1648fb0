"""The emulator's data: a pure function of platform, account id and date, so two runs see the same numbers.

Each account has 3 to 50 campaigns that start and stop on their own dates, with realistic magnitudes
(spend from a few to a few thousand a day, CPMs of 4 to 30, CTRs of 0.5 to 3 %), and some days on which a
running campaign does not deliver. An account id containing ``eur`` is a euro account in Berlin, which gives
tests an account in a second currency and another time zone.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

TIMEZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Australia/Sydney", "America/Chicago"]
CAMPAIGN_WORDS = [
    "Prospecting",
    "Retargeting",
    "Brand",
    "Spring Sale",
    "Lookalike",
    "Catalog",
    "Search",
    "Video Views",
    "Black Friday",
    "Evergreen",
    "Launch",
    "Awareness",
]
OBJECTIVES = {
    "meta_ads": ["OUTCOME_SALES", "OUTCOME_TRAFFIC", "OUTCOME_AWARENESS", "OUTCOME_LEADS"],
    "google_ads": ["SEARCH", "PERFORMANCE_MAX", "DISPLAY", "SHOPPING", "VIDEO"],
    "tiktok_ads": ["CONVERSIONS", "TRAFFIC", "REACH", "VIDEO_VIEWS"],
}
CAMPAIGN_ID_PREFIX = {"meta_ads": "1202100", "google_ads": "2100", "tiktok_ads": "18000"}
EPOCH = date(2024, 1, 1)
CENT = Decimal("0.01")


def rng(*parts: object) -> random.Random:
    """A random generator seeded by the given parts, the same on every machine and run."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Account:
    """An ad account, store or property as the platform describes it."""

    platform: str
    account_id: str
    name: str
    currency: str
    timezone: str


@dataclass(frozen=True)
class Campaign:
    """A campaign with its life span and budget in major currency units."""

    id: str
    name: str
    active: bool
    objective: str
    daily_budget: Decimal | None
    lifetime_budget: Decimal | None
    start: date
    end: date | None

    def runs_on(self, day: date) -> bool:
        """Whether the campaign was live on that day."""
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class DayMetrics:
    """One campaign's delivery on one local day."""

    spend: Decimal
    impressions: int
    clicks: int
    reach: int
    conversions: int
    conversion_value: Decimal

    @property
    def frequency(self) -> Decimal:
        """Impressions per person reached, as the platforms report it."""
        return (Decimal(self.impressions) / Decimal(self.reach)).quantize(Decimal("0.000001"))


def account(platform: str, account_id: str) -> Account:
    """The account's name, currency and time zone."""
    r = rng(platform, account_id, "account")
    if "eur" in account_id.lower():
        currency, timezone = "EUR", "Europe/Berlin"
    else:
        currency, timezone = "USD", r.choice(TIMEZONES)
    return Account(platform, account_id, f"Demo {platform} {account_id}", currency, timezone)


def campaigns(platform: str, account_id: str) -> list[Campaign]:
    """The account's campaigns, sorted by id."""
    r = rng(platform, account_id, "campaigns")
    prefix = CAMPAIGN_ID_PREFIX.get(platform, "9")
    found = []
    for index in range(r.randint(3, 50)):
        start = EPOCH + timedelta(days=r.randint(-200, 900))
        end = start + timedelta(days=r.randint(20, 400)) if r.random() < 0.4 else None
        daily = Decimal(r.randint(10, 400) * 5) if r.random() < 0.7 else None
        found.append(
            Campaign(
                id=f"{prefix}{index + 1:011d}",
                name=f"{r.choice(CAMPAIGN_WORDS)} {index + 1}",
                active=end is None,
                objective=r.choice(OBJECTIVES.get(platform, ["SALES"])),
                daily_budget=daily,
                lifetime_budget=None if daily else Decimal(r.randint(50, 2000) * 10),
                start=start,
                end=end,
            )
        )
    return found


def campaign_day(platform: str, account_id: str, campaign: Campaign, day: date) -> DayMetrics | None:
    """What the campaign delivered that day; None when it was not live; zeros on a day without delivery."""
    if not campaign.runs_on(day):
        return None
    r = rng(platform, account_id, campaign.id, day.isoformat())
    if r.random() < 0.06:
        return DayMetrics(Decimal("0.00"), 0, 0, 0, 0, Decimal("0.00"))
    scale = rng(platform, account_id, campaign.id, "scale").uniform(5, 1500)
    spend = Decimal(str(scale * r.uniform(0.6, 1.4))).quantize(CENT)
    impressions = int(float(spend) / r.uniform(4, 30) * 1000)
    clicks = int(impressions * r.uniform(0.005, 0.03))
    reach = max(1, int(impressions / r.uniform(1.05, 2.5)))
    conversions = int(clicks * r.uniform(0.0, 0.06))
    value = Decimal(str(conversions * r.uniform(20, 200))).quantize(CENT)
    return DayMetrics(spend, impressions, clicks, reach, conversions, value)


def days(start: date, end: date) -> list[date]:
    """Every day from start to end inclusive."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
