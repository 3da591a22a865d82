"""Driving whole conversations through the simulator API, and seeding customers, for the leads/touches tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.events import Event, EventKind
from bot.runtime import Runtime
from store.models import ChatBinding, Contact, Customer, Opportunity
from tests.conftest import T0


def say(client: TestClient, text: str, user: str = "lilei") -> list[dict[str, Any]]:
    """What the bot answered (outgoing messages only)."""
    messages = client.post("/sim/api/send", json={"user": user, "text": text}).json()["messages"]
    return [m["payload"] for m in messages if m["direction"] == "out"]


def click(client: TestClient, card: dict[str, Any], label: str, user: str = "lilei") -> list[dict[str, Any]]:
    [key] = [b["key"] for b in card["buttons"] if b["label"] == label]
    messages = client.post("/sim/api/click", json={"user": user, "key": key}).json()["messages"]
    return [m["payload"] for m in messages if m["direction"] == "out"]


def last_card(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    return [p["card"] for p in payloads if "card" in p][-1]


def labels(card: dict[str, Any]) -> list[str]:
    return [b["label"] for b in card["buttons"]]


def drive_lead(client: TestClient, message: str, answers: dict[str, str],
               user: str = "lilei") -> tuple[list[str], dict[str, Any]]:
    """Sends the lead, answers each question the bot asks (a button when it has that label, else typed); returns
    the questions in order and the saved card."""
    card, asked = last_card(say(client, message, user)), []
    while card["title"].startswith("新线索 · "):
        question = card["title"].removeprefix("新线索 · ")
        asked.append(question)
        answer = answers[question]
        card = last_card(click(client, card, answer, user) if answer in labels(card) else say(client, answer, user))
    return asked, card


def texts(payloads: list[dict[str, Any]]) -> list[str]:
    return [p["text"] for p in payloads if "text" in p]


def inbox(client: TestClient, user: str = "lilei") -> list[dict[str, Any]]:
    """Everything delivered to the user so far."""
    messages = client.get("/sim/api/messages", params={"user": user}).json()["messages"]
    return [m["payload"] for m in messages if m["direction"] == "out"]


def send_event(runtime: Runtime, kind: EventKind, user: str = "lilei", **fields: Any) -> None:
    """A non-text event (file, link, meeting …) through the same inbox path a platform adapter uses."""
    fields.setdefault("received_at", runtime.clock.now())
    runtime.inbox.ingest(Event(channel="local", msg_id=uuid.uuid4().hex, sender=user, kind=kind, **fields))
    runtime.work_once()


def seed_customer(session: Session, name: str, *, owner: str = "lilei", aliases: list[str] | None = None,
                  stage: str = "线索", updated: datetime, industry: str = "医疗") -> Opportunity:
    customer = Customer(name=name, aliases=aliases or [], industry=industry, owner_id=owner, created_at=updated)
    session.add(customer)
    session.flush()
    opportunity = Opportunity(customer_id=customer.id, owner_id=owner, name=name, stage=stage,
                              stage_entered_at=updated, last_update_at=updated, industry=industry,
                              budget_band="百万级", decision_chain=[{"name": "王总", "title": "CTO", "role": "决策人"}],
                              need_stage="方案评估", created_at=updated)
    session.add(opportunity)
    session.commit()
    return opportunity


def seed_bound_customer(engine: Engine, channel: str, chat_id: str) -> Opportunity:
    """华东医疗器械 (alias 华东医疗), last worked on three days ago — outside the context window — with the
    customer group `chat_id` bound to it."""
    with Session(engine) as session:
        opportunity = seed_customer(session, "华东医疗器械有限公司", aliases=["华东医疗"],
                                    updated=T0 - timedelta(days=3))
        session.add(ChatBinding(channel=channel, chat_id=chat_id, customer_id=opportunity.customer_id))
        session.commit()
        session.refresh(opportunity)
        return opportunity


def customer_named(session: Session, name: str) -> Customer:
    return session.exec(select(Customer).where(Customer.name == name)).one()


def saved_lead(engine: Engine, customer: str) -> tuple[Opportunity, list[tuple[str, str | None, str | None]]]:
    """The customer's opportunity and its contacts as (name, title, role)."""
    with Session(engine) as session:
        found = customer_named(session, customer)
        opportunity = session.exec(select(Opportunity).where(Opportunity.customer_id == found.id)).one()
        contacts = session.exec(select(Contact).where(Contact.customer_id == found.id).order_by(Contact.id)).all()
        return opportunity, [(c.name, c.title, c.role) for c in contacts]
