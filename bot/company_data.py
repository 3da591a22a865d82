"""Customer company data (天眼查/企查查-style API): the provider, its HTTP client, and the fetch before the sweep."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import Session

from bot.config import CompanyDataConfig
from rules.loader import RuleSet
from scheduler.registry import Job
from store import forecast as store
from store.models import Customer

log = logging.getLogger(__name__)

JOB = "company_events"
TIMEOUT_SECONDS = 5.0
RATE_PER_SECOND = 5.0
BURST = 10


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    credit_code: str | None = None


@dataclass(frozen=True)
class CompanyNews:
    """One event about a company: 工商变更, 融资, 高管变动, 招标公告, 司法风险 …"""

    id: str
    kind: str
    title: str
    day: date
    detail: dict[str, Any]


class CompanyDataProvider(Protocol):
    """Anything that answers these two; failures are "no data", never an exception."""

    def search(self, keyword: str) -> Company | None:
        """By legal name or unified social credit code."""

    def events(self, company: Company, since: date) -> list[CompanyNews]:
        """Events on or after `since`."""


class TokenBucket:
    """Client-side rate limit: `rate` requests per second on average, `burst` at once."""

    def __init__(self, rate: float, burst: int, *, now: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate, self.capacity, self.now, self.sleep = rate, float(burst), now, sleep
        self.tokens, self.stamp = float(burst), now()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            current = self.now()
            self.tokens = min(self.capacity, self.tokens + (current - self.stamp) * self.rate)
            self.stamp = current
            if self.tokens < 1:
                self.sleep((1 - self.tokens) / self.rate)
                self.tokens, self.stamp = 1.0, self.now()
            self.tokens -= 1


class HttpCompanyData:
    """`GET {base}/search?keyword=` and `GET {base}/events?company_id=&since=`, token in `Authorization`.

    Answers are `{"code": 0, "data": {"items": [...]}}`. Each answer is cached per query per day, so one
    sweep a day asks once per company; timeouts, 5xx, non-zero codes and bad JSON are logged and give no data.
    """

    def __init__(self, base_url: str, token: str, *, today: Callable[[], date], bucket: TokenBucket | None = None,
                 timeout: float = TIMEOUT_SECONDS, transport: httpx.BaseTransport | None = None) -> None:
        self.client = httpx.Client(base_url=base_url.rstrip("/"), headers={"Authorization": token},
                                   timeout=timeout, transport=transport)
        self.today = today
        self.bucket = bucket or TokenBucket(RATE_PER_SECOND, BURST)
        self._cache: dict[tuple[str, str, date], list[dict[str, Any]] | None] = {}
        self.requests = 0

    def search(self, keyword: str) -> Company | None:
        items = self._get("/search", {"keyword": keyword})
        for item in items or []:
            try:
                return Company(str(item["id"]), str(item["name"]), item.get("credit_code"))
            except (KeyError, TypeError):
                log.warning("company data: malformed search item for %r", keyword)
        return None

    def events(self, company: Company, since: date) -> list[CompanyNews]:
        found: list[CompanyNews] = []
        for item in self._get("/events", {"company_id": company.id, "since": since.isoformat()}) or []:
            try:
                found.append(CompanyNews(str(item["id"]), str(item["kind"]), str(item["title"]),
                                         date.fromisoformat(str(item["date"])), dict(item.get("detail") or {})))
            except (KeyError, TypeError, ValueError):
                log.warning("company data: malformed event for company %s", company.id)
        return found

    def _get(self, path: str, params: dict[str, str]) -> list[dict[str, Any]] | None:
        key = (path, "&".join(f"{k}={v}" for k, v in sorted(params.items())), self.today())
        if key in self._cache:
            return self._cache[key]
        self.bucket.take()
        self.requests += 1
        try:
            response = self.client.get(path, params=params)
            response.raise_for_status()
            body = response.json()
            if body.get("code") != 0:
                raise ValueError(f"code {body.get('code')}: {body.get('message', '')}")
            items = body["data"]["items"]
            if not isinstance(items, list):
                raise ValueError("items is not a list")
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("company data unavailable (%s %s): %s: %s", path, params, type(exc).__name__, exc)
            return None  # not cached: a later run may find the provider back
        self._cache[key] = items
        return items


def provider_from(config: CompanyDataConfig, today: Callable[[], date]) -> CompanyDataProvider | None:
    if config.provider == "none" or not config.base_url:
        return None
    return HttpCompanyData(config.base_url, config.token, today=today)


def refresh(session: Session, provider: CompanyDataProvider, *, at: datetime, tz: ZoneInfo,
            lookback_days: int) -> int:
    """Fetches recent events of every customer with an open opportunity into CompanyEvent; returns new rows."""
    since = at.astimezone(tz).date() - timedelta(days=lookback_days)
    rows: list[dict[str, Any]] = []
    for customer in store.customers_to_watch(session):
        company = provider.search(customer.credit_code or customer.name)
        if company is None:
            continue
        rows += [_row(customer, news, tz) for news in provider.events(company, since)]
    return len(store.store_events(session, rows))


def _row(customer: Customer, news: CompanyNews, tz: ZoneInfo) -> dict[str, Any]:
    return {"customer_id": customer.id, "external_id": f"{customer.id}:{news.id}", "kind": news.kind,
            "title": news.title[:500], "occurred_at": datetime.combine(news.day, datetime.min.time(), tz),
            "payload": news.detail}


def with_provider(jobs: list[Job], provider: CompanyDataProvider | None) -> list[Job]:
    """The seam: the `company_events` job first fetches into the table, then its sweep reads only the table."""
    if provider is None:
        return jobs

    def fetch_then_sweep(job: Job) -> Callable[[Session, datetime, RuleSet, ZoneInfo], int]:
        def run(session: Session, at: datetime, rules: RuleSet, tz: ZoneInfo) -> int:
            refresh(session, provider, at=at, tz=tz, lookback_days=rules.forecast.company_events.lookback_days)
            return job.run(session, at, rules, tz)
        return run

    return [replace(job, run=fetch_then_sweep(job)) if job.name == JOB else job for job in jobs]
