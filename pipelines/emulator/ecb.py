"""The European Central Bank's euro foreign exchange reference rates, in the ECB's own ``eurofxref`` XML.

The real files live under ``https://www.ecb.europa.eu/stats/eurofxref/``: ``eurofxref-daily.xml`` (the latest
publication day), ``eurofxref-hist-90d.xml`` (the last 90 days) and ``eurofxref-hist.xml`` (every day since
1999), each a ``gesmes:Envelope`` whose ``Cube`` holds one ``<Cube time="YYYY-MM-DD">`` per publication day
(newest first) with a ``<Cube currency="USD" rate="1.0876"/>`` per currency: units of the currency per euro.

Rates are published on TARGET business days only: no weekends, no 1 January, Good Friday, Easter Monday,
1 May, 25 and 26 December. Here a day is published from that day on (the ECB publishes around 16:00 CET), its
rates are a pure function of the currency and the day, and history starts on ``HISTORY_START`` rather than
1999, so a full load stays small. The control route's fault plan of platform ``ecb``, account ``eurofxref``
can answer with 500s or a body cut short, as for the other platforms.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from xml.sax.saxutils import quoteattr

from fastapi import APIRouter, Request, Response

router = APIRouter(prefix="/stats/eurofxref", tags=["ecb"])

PLATFORM = "ecb"
ACCOUNT = "eurofxref"
HISTORY_START = date(2023, 1, 2)
RECENT_DAYS = 90
# A currency's central rate per euro and the decimals the ECB quotes it with.
CURRENCIES: dict[str, tuple[Decimal, int]] = {
    "USD": (Decimal("1.0850"), 4),
    "JPY": (Decimal("158.40"), 2),
    "GBP": (Decimal("0.85500"), 5),
    "CHF": (Decimal("0.9600"), 4),
    "SEK": (Decimal("11.3000"), 4),
    "NOK": (Decimal("11.5500"), 4),
    "DKK": (Decimal("7.4600"), 4),
    "PLN": (Decimal("4.3200"), 4),
    "CZK": (Decimal("25.100"), 3),
    "AUD": (Decimal("1.6500"), 4),
    "CAD": (Decimal("1.4700"), 4),
    "BRL": (Decimal("5.6000"), 4),
}
ENVELOPE_START = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
    'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
    "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
    "\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n"
    "\t<Cube>\n"
)
ENVELOPE_END = "\t</Cube>\n</gesmes:Envelope>\n"


def easter_sunday(year: int) -> date:
    """Easter Sunday of a Gregorian year (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


def is_publication_day(day: date) -> bool:
    """Whether the ECB publishes reference rates on ``day``: a TARGET business day."""
    easter = easter_sunday(day.year)
    holidays = {
        date(day.year, 1, 1),
        easter - timedelta(days=2),
        easter + timedelta(days=1),
        date(day.year, 5, 1),
        date(day.year, 12, 25),
        date(day.year, 12, 26),
    }
    return day.weekday() < 5 and day not in holidays


def rate(currency: str, day: date) -> Decimal:
    """A currency's rate per euro on a day: its central rate moved by up to 2% in a pattern of the day."""
    central, decimals = CURRENCIES[currency]
    index = list(CURRENCIES).index(currency)
    swing = Decimal((day.toordinal() * 37 + index * 101) % 401 - 200) / 10_000
    return (central * (1 + swing)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)


def publication_days(first: date, last: date) -> list[date]:
    """The publication days from ``first`` to ``last``, newest first, as the ECB's files list them."""
    count = (last - first).days + 1
    return [day for day in (last - timedelta(days=n) for n in range(count)) if is_publication_day(day)]


def latest_publication(today: date) -> date:
    """The last publication day on or before ``today``."""
    day = today
    while not is_publication_day(day):
        day -= timedelta(days=1)
    return day


def eurofxref(days: list[date]) -> str:
    """The ECB's XML for the given publication days."""
    parts = [ENVELOPE_START]
    for day in days:
        parts.append(f"\t\t<Cube time={quoteattr(day.isoformat())}>\n")
        for currency in CURRENCIES:
            parts.append(f"\t\t\t<Cube currency={quoteattr(currency)} rate={quoteattr(str(rate(currency, day)))}/>\n")
        parts.append("\t\t</Cube>\n")
    parts.append(ENVELOPE_END)
    return "".join(parts)


def answer(request: Request, body: str) -> Response:
    """The XML as the ECB serves it, unless a test switched a fault on for the ECB."""
    state = request.app.state.emulator
    state.requests[(PLATFORM, ACCOUNT)] += 1
    plan = state.plan(PLATFORM, ACCOUNT)
    if plan.server_error:
        plan.server_error -= 1
        return Response("<html><body>Internal Server Error</body></html>", status_code=500, media_type="text/html")
    encoded = body.encode()
    if plan.truncate:
        plan.truncate -= 1
        encoded = encoded[: len(encoded) // 2]
    return Response(encoded, media_type="text/xml")


@router.get("/eurofxref-daily.xml")
def daily(request: Request) -> Response:
    """The latest publication day's rates."""
    latest = latest_publication(request.app.state.emulator.current_date())
    return answer(request, eurofxref([latest]))


@router.get("/eurofxref-hist-90d.xml")
def last_90_days(request: Request) -> Response:
    """The publication days of the last 90 days."""
    today = request.app.state.emulator.current_date()
    return answer(request, eurofxref(publication_days(today - timedelta(days=RECENT_DAYS - 1), today)))


@router.get("/eurofxref-hist.xml")
def history(request: Request) -> Response:
    """Every publication day of the emulator's history."""
    return answer(request, eurofxref(publication_days(HISTORY_START, request.app.state.emulator.current_date())))
