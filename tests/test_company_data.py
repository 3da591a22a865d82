import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.company_data import HttpCompanyData, TokenBucket, with_provider
from bot.config import load_settings
from bot.runtime import Runtime
from scheduler.runner import run_sweep
from store.db import session_scope
from store.models import CompanyEvent, Customer, Opportunity, Signal, SimMessage
from tests.conftest import DATA, T0, TZ
from tests.fakes.company_data_server import CompanyDataServer
from tests.pipeline_helpers import opportunity
from tests.test_forecast import commit, last_card, late_stage

CUSTOMER = "华东医疗器械有限公司"
CTO_CHANGE = {"id": "e1", "kind": "高管变动", "title": "CTO变更：王强→赵敏", "date": "2026-11-30"}
FUNDING = {"id": "e2", "kind": "融资", "title": "完成B轮融资2亿元", "date": "2026-11-29"}
OLD = {"id": "e0", "kind": "司法风险", "title": "合同纠纷立案", "date": "2026-10-01"}


@pytest.fixture
def server():
    with CompanyDataServer() as fake:
        yield fake


def wired(runtime, base_url):
    """The app as configured with a company-data provider (same database and clock as `runtime`)."""
    settings = load_settings(environ={}, path=DATA / "config-test.yaml", overrides={
        "database": {"url": runtime.settings.database.url},
        "company_data": {"provider": "tianyancha", "base_url": base_url, "token": "test-token"}})
    return Runtime(settings, clock=runtime.clock, engine=runtime.engine)


def company_events(app):
    job = next(j for j in app.jobs if j.name == "company_events")
    written = run_sweep(app.engine, job, app.clock.now(), app.rules, TZ)
    app.dispatcher.flush()
    return written


def chat(runtime, user="lilei"):
    with Session(runtime.engine) as session:
        return [m.payload for m in session.exec(select(SimMessage).where(SimMessage.user_id == user)
                                                .order_by(SimMessage.id)).all()]


def test_events_become_a_risk_hint_for_the_rep_and_a_candidate_system_signal(runtime, server):
    opp = opportunity(runtime.engine, customer=CUSTOMER, stage="商务谈判", at=T0)
    server.company(CUSTOMER, "c1", CTO_CHANGE, FUNDING, OLD)
    app = wired(runtime, server.base_url)
    assert company_events(app) == 1
    [card] = [m["card"] for m in chat(runtime)]
    assert card["title"] == "⚠️ 客户动态风险提示"
    assert card["lines"] == ["「华东医疗器械有限公司」高管变动：CTO变更：王强→赵敏 → 决策链需重新确认"]
    with Session(runtime.engine) as session:
        assert sorted(e.kind for e in session.exec(select(CompanyEvent)).all()) == ["融资", "高管变动"]
        signal = session.exec(select(Signal)).one()
        assert (signal.opportunity_id, signal.type, signal.source, signal.forecast_item_id) == (
            opp, "customer_growth", "system", None)
    asked = len(server.requests)
    assert company_events(app) == 0  # nothing new, and today's answers come from the cache
    assert len(server.requests) == asked


def test_a_positive_event_counts_as_a_system_signal_in_the_next_forecast(runtime, server):
    late_stage(runtime, CUSTOMER)
    server.company(CUSTOMER, "c1", FUNDING)
    company_events(wired(runtime, server.base_url))
    with TestClient(create_app(runtime, start_workers=False)) as client:
        done = last_card(commit(client))
    assert done["lines"][0] == "· 华东医疗器械有限公司 · 确定签约 · 80万元 · 预计 2026-12-20 · 有效信号 2 项"


def _down_url():
    with CompanyDataServer() as gone:
        return gone.base_url  # closed on exit: connections are refused


@pytest.mark.parametrize("fault", ["down", "500", "timeout", "bad_json", "error_code"])
def test_provider_failures_degrade_to_no_data_with_a_warning(runtime, server, caplog, fault):
    opportunity(runtime.engine, customer=CUSTOMER, stage="商务谈判", at=T0)
    server.company(CUSTOMER, "c1", CTO_CHANGE)
    server.fault = fault
    url = _down_url() if fault == "down" else server.base_url
    provider = HttpCompanyData(url, "test-token", today=runtime.clock.today, timeout=0.2)
    [job] = [j for j in with_provider(runtime.jobs, provider) if j.name == "company_events"]
    with caplog.at_level(logging.WARNING, logger="bot.company_data"):
        assert run_sweep(runtime.engine, job, T0, runtime.rules, TZ) == 0
    assert "company data unavailable" in caplog.text
    runtime.dispatcher.flush()
    assert chat(runtime) == []
    with Session(runtime.engine) as session:
        assert session.exec(select(CompanyEvent)).all() == []


def test_a_provider_back_after_a_failure_is_asked_again_the_same_day(runtime, server):
    opportunity(runtime.engine, customer=CUSTOMER, stage="商务谈判", at=T0)
    server.company(CUSTOMER, "c1", CTO_CHANGE)
    app = wired(runtime, server.base_url)
    server.fault = "500"
    assert company_events(app) == 0
    server.fault = "none"
    assert company_events(app) == 1


def test_search_by_credit_code_when_the_customer_has_one(runtime, server):
    opp = opportunity(runtime.engine, customer=CUSTOMER, stage="商务谈判", at=T0)
    with session_scope(runtime.engine) as session:
        customer = session.get(Opportunity, opp).customer_id
        session.get(Customer, customer).credit_code = "91310000MA1K000000"
    server.company("91310000MA1K000000", "c9", CTO_CHANGE)
    assert company_events(wired(runtime, server.base_url)) == 1


def test_token_bucket_waits_only_beyond_the_burst():
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=2, burst=3, now=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.take()
    assert waits == [0.5, 0.5]
    now[0] += 10
    bucket.take()
    assert waits == [0.5, 0.5]


def test_events_older_than_the_lookback_are_not_pushed(runtime, server):
    opportunity(runtime.engine, customer=CUSTOMER, stage="商务谈判", at=T0 - timedelta(days=30))
    server.company(CUSTOMER, "c1", OLD)
    assert company_events(wired(runtime, server.base_url)) == 0

