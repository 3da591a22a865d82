"""The tables of the whole domain (DESIGN.md, "Domain"); later features add columns by migration."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    or_,
    text,
    update,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlmodel import Field, SQLModel

from store.types import UTCDateTime

# An instant before any evidence: a new or changed opportunity is due for rescoring at the next tick.
RESCORE_NOW = datetime(1970, 1, 1, tzinfo=UTC)
RESCORE_NOW_SQL = text("'1970-01-01 00:00:00'")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _time(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


# A change instant no tick can be before: a row written without one (a bulk import, an old row) is judged next tick.
JUDGE_NOW = datetime(2000, 1, 1, tzinfo=UTC)


def _from_last_update(context: DefaultExecutionContext) -> datetime | None:
    """A new opportunity's light can change no earlier than its last update: the next tick judges it."""
    return context.get_current_parameters().get("last_update_at")


def _yuan(default: Any = None, nullable: bool = True) -> Any:
    """Money in whole yuan: 64-bit, since a deal past 2.1 billion would overflow PostgreSQL's INTEGER."""
    return Field(default=default, sa_type=BigInteger, nullable=nullable)


def _json_list() -> Any:
    return Field(default_factory=list, sa_type=JSON)


def _json_dict() -> Any:
    return Field(default_factory=dict, sa_type=JSON)


def _user_fk(nullable: bool = True, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(String(64), ForeignKey("user.id"), nullable=nullable, index=index),
    )


# --- organisation ---------------------------------------------------------------------------


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    region: str | None = Field(default=None, max_length=100)
    # No foreign key: team and user would reference each other; org import checks the id.
    manager_id: str | None = Field(default=None, max_length=64)


class User(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)  # rep | manager | admin
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)
    wecom_userid: str | None = Field(default=None, max_length=64, unique=True)
    dingtalk_userid: str | None = Field(default=None, max_length=64, unique=True)
    hired_on: date | None = None
    active: bool = True
    created_at: datetime | None = _time()


# --- customers and pipeline -----------------------------------------------------------------


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    aliases: list[str] = _json_list()
    industry: str | None = Field(default=None, max_length=50)
    owner_id: str | None = _user_fk()
    credit_code: str | None = Field(default=None, max_length=32)
    created_at: datetime | None = _time()
    updated_at: datetime | None = _time()


class ChatBinding(SQLModel, table=True):
    """An external group chat bound to one customer, so its messages link to that customer."""

    __table_args__ = (UniqueConstraint("channel", "chat_id"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    customer_id: int = Field(foreign_key="customer.id", index=True)


class Contact(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    name: str = Field(max_length=100)
    title: str | None = Field(default=None, max_length=100)
    role: str | None = Field(default=None, max_length=50)  # decision role
    updated_at: datetime | None = _time()


class Opportunity(SQLModel, table=True):
    # The stage-light sweep's predicate, so it reads only what it reports; the similarity engine's candidate set.
    __table_args__ = (Index("ix_opportunity_lights", "status", "stage", "last_update_at"),
                      Index("ix_opportunity_similar", "status", "industry", "budget_band", "closed_at"))
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    owner_id: str | None = _user_fk()
    name: str = Field(max_length=200)
    stage: str = Field(max_length=50, index=True)
    stage_entered_at: datetime | None = _time(nullable=False)
    last_update_at: datetime | None = _time(nullable=False)
    status: str = Field(default="open", max_length=8, index=True)  # open | won | lost
    industry: str | None = Field(default=None, max_length=50)
    budget: int | None = _yuan()
    budget_band: str | None = Field(default=None, max_length=50)
    decision_chain: list[dict[str, Any]] = _json_list()
    need_stage: str | None = Field(default=None, max_length=50)
    evidence: dict[str, Any] = _json_dict()
    tags: list[str] = _json_list()
    amount: int | None = _yuan()
    expected_close: date | None = None
    health: int | None = None
    # When its health score can next change by time alone (evidence leaving the window, the stage clock), so the
    # tick reads only those rows: RESCORE_NOW after its inputs changed, None when nothing can change it any more.
    health_rescore_at: datetime | None = Field(
        default=RESCORE_NOW, sa_type=UTCDateTime, nullable=True, index=True,
        sa_column_kwargs={"server_default": RESCORE_NOW_SQL})
    created_at: datetime | None = _time()
    closed_at: datetime | None = _time()
    # The stage light as of its last judgement, and when it next changes colour (None: never, as things stand);
    # a tick reads only the rows whose instant has passed (scheduler/stage_lights.py).
    light: str = Field(default="green", max_length=16, sa_column_kwargs={"server_default": text("'green'")})
    light_changes_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, index=True, default=_from_last_update))


class StageChange(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    from_stage: str | None = Field(default=None, max_length=50)
    to_stage: str = Field(max_length=50)
    at: datetime | None = _time(nullable=False)
    by_user_id: str | None = _user_fk(index=False)
    behavior_log_id: int | None = Field(default=None, foreign_key="behaviorlog.id")


# --- evidence -------------------------------------------------------------------------------


class Message(SQLModel, table=True):
    """The inbox: every inbound event, stored before the platform is acknowledged."""

    __table_args__ = (UniqueConstraint("channel", "msg_id"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    msg_id: str = Field(max_length=128)
    sender: str | None = Field(default=None, max_length=128)
    user_id: str | None = _user_fk()
    chat_id: str | None = Field(default=None, max_length=128)
    kind: str = Field(max_length=32)
    text: str | None = Field(default=None, sa_type=Text)
    event: dict[str, Any] = _json_dict()
    received_at: datetime | None = _time(nullable=False)
    processed_at: datetime | None = _time(index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)


class Touch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    opportunity_id: int | None = Field(default=None, foreign_key="opportunity.id", index=True)
    rep_id: str | None = _user_fk()
    kind: str = Field(max_length=16)
    valid: bool = False
    at: datetime | None = _time(nullable=False, index=True)
    source: str = Field(max_length=16)
    source_msg_id: str | None = Field(default=None, max_length=128)
    fingerprint: str | None = Field(default=None, max_length=128, unique=True)
    url: str | None = Field(default=None, sa_type=Text)
    filename: str | None = Field(default=None, max_length=255)
    evidence: dict[str, Any] = _json_dict()


class FeedbackHit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    opportunity_id: int | None = Field(default=None, foreign_key="opportunity.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    keyword: str = Field(max_length=50)
    polarity: str = Field(max_length=8)
    at: datetime | None = _time(nullable=False)


class HealthSnapshot(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    at: datetime | None = _time(nullable=False)
    score: int
    components: dict[str, Any] = _json_dict()


class Alert(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    level: str = Field(default="info", max_length=16)
    dedupe_key: str = Field(max_length=200, unique=True)
    opportunity_id: int | None = Field(default=None, foreign_key="opportunity.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    rep_id: str | None = _user_fk()
    manager_id: str | None = _user_fk()
    message: str | None = Field(default=None, sa_type=Text)
    created_at: datetime | None = _time(nullable=False)
    resolved_at: datetime | None = _time()
    resolved_by: str | None = Field(default=None, max_length=64)


# --- payments and commission ----------------------------------------------------------------


class PaymentMilestone(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    label: str = Field(max_length=50)
    due_on: date
    amount: int = _yuan(..., nullable=False)
    received_amount: int = _yuan(0, nullable=False)
    received_at: datetime | None = _time()
    receipt: dict[str, Any] = _json_dict()
    # When the payment sweep next has something to say (a reminder, then overdue); None: nothing left to say.
    next_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, index=True, default=JUDGE_NOW))


class Payment(SQLModel, table=True):
    """One receipt of money (a 回款): milestones are paid by these, commission is computed from these."""

    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    milestone_id: int | None = Field(default=None, foreign_key="paymentmilestone.id")
    rep_id: str | None = _user_fk()
    amount: int = _yuan(..., nullable=False)
    received_at: datetime | None = _time(nullable=False, index=True)
    receipt: dict[str, Any] = _json_dict()  # the evidence: file name, touch id, message id


class CommissionHold(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    rep_id: str | None = _user_fk()
    milestone_id: int | None = Field(default=None, foreign_key="paymentmilestone.id")
    reason: str = Field(max_length=200)
    placed_at: datetime | None = _time(nullable=False)
    released_at: datetime | None = _time()


# --- behaviors and incentives ---------------------------------------------------------------


class BehaviorType(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("quarter", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    quarter: str = Field(max_length=8)
    code: str = Field(max_length=50)
    name: str = Field(max_length=100)
    category: str = Field(max_length=50)
    points: int
    description: str | None = Field(default=None, sa_type=Text)
    evidence: str | None = Field(default=None, max_length=200)


class BehaviorLog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    rep_id: str | None = _user_fk()
    opportunity_id: int | None = Field(default=None, foreign_key="opportunity.id", index=True)
    behavior_type_id: int = Field(foreign_key="behaviortype.id")
    points: int
    at: datetime | None = _time(nullable=False, index=True)
    evidence_touch_id: int | None = Field(default=None, foreign_key="touch.id")


class Reward(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=50, unique=True)
    name: str = Field(max_length=100)
    cost: int


class Redemption(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    rep_id: str | None = _user_fk()
    reward_id: int = Field(foreign_key="reward.id")
    points: int
    status: str = Field(default="pending", max_length=16)
    requested_at: datetime | None = _time(nullable=False)
    decided_at: datetime | None = _time()
    decided_by: str | None = Field(default=None, max_length=64)


class OnboardingTask(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rep_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    rep_id: str | None = _user_fk(index=False)
    code: str = Field(max_length=50)
    name: str = Field(max_length=100)
    target: int
    progress: int = 0
    completed_at: datetime | None = _time()


# --- forecasts ------------------------------------------------------------------------------


class Forecast(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rep_id", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    rep_id: str | None = _user_fk(index=False)
    period: str = Field(max_length=16)
    status: str = Field(default="draft", max_length=16)
    submitted_at: datetime | None = _time()


class ForecastItem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    forecast_id: int = Field(foreign_key="forecast.id", index=True)
    opportunity_id: int = Field(foreign_key="opportunity.id")
    category: str = Field(max_length=16)  # commit | best | omit
    amount: int | None = _yuan()
    expected_close: date | None = None
    risk: str | None = Field(default=None, max_length=16)


class Signal(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    forecast_item_id: int | None = Field(default=None, foreign_key="forecastitem.id")
    type: str = Field(max_length=50)
    source: str = Field(max_length=16)  # rep | system
    evidence: dict[str, Any] = _json_dict()
    observed_at: datetime | None = _time(nullable=False)
    verified: bool = False
    reason: str | None = Field(default=None, max_length=200)


class CompanyEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    external_id: str = Field(max_length=128, unique=True)
    kind: str = Field(max_length=32)
    title: str = Field(max_length=500)
    occurred_at: datetime | None = _time(nullable=False)
    payload: dict[str, Any] = _json_dict()


# --- reports --------------------------------------------------------------------------------


class DailyReport(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rep_id", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    rep_id: str | None = _user_fk(index=False)
    day: date
    customers: list[str] = _json_list()
    keywords: list[str] = _json_list()
    todos: list[dict[str, Any]] = _json_list()
    body: dict[str, Any] = _json_dict()
    value_score: int = 0
    value_tags: list[str] = _json_list()
    source: str = Field(default="quick_note", max_length=16)
    created_at: datetime | None = _time(nullable=False)


class Todo(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    rep_id: str | None = _user_fk()
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    report_id: int | None = Field(default=None, foreign_key="dailyreport.id")
    text: str = Field(sa_type=Text)
    due_on: date | None = None
    done_at: datetime | None = _time()
    reminded_at: datetime | None = _time()


class Checklist(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    rep_id: str | None = _user_fk()
    customer_id: int = Field(foreign_key="customer.id")
    items: list[dict[str, Any]] = _json_list()
    created_at: datetime | None = _time(nullable=False)
    completed_at: datetime | None = _time()


# --- messaging plumbing ---------------------------------------------------------------------


class Outbox(SQLModel, table=True):
    """Every message we owe a platform; only the dispatcher sends, at most once per dedupe key."""

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    channel: str | None = Field(default=None, max_length=16)  # None: the recipient's own channel
    user_id: str | None = _user_fk()
    platform_user: str | None = Field(default=None, max_length=128)
    chat_id: str | None = Field(default=None, max_length=128)
    kind: str = Field(max_length=16)
    payload: dict[str, Any] = _json_dict()
    status: str = Field(default="pending", max_length=16, index=True)  # pending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime | None = _time(nullable=False, index=True)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime | None = _time(nullable=False)
    sent_at: datetime | None = _time()
    platform_ref: str | None = Field(default=None, max_length=200)


class Dialog(SQLModel, table=True):
    """A multi-step conversation's state, kept here (never in memory) so any process can go on."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(sa_column=Column(String(64), ForeignKey("user.id"), unique=True, nullable=False))
    flow: str = Field(max_length=50)
    step: str = Field(max_length=50)
    data: dict[str, Any] = _json_dict()
    expires_at: datetime | None = _time(nullable=False)
    updated_at: datetime | None = _time(nullable=False)


class CardAction(SQLModel, table=True):
    """The server-side meaning of a card button; clients only ever see the opaque token."""

    token: str = Field(primary_key=True, max_length=64)
    card_id: str = Field(max_length=64, index=True)  # answering one button answers the whole card
    user_id: str | None = _user_fk(index=False)
    action: str = Field(max_length=100)
    data: dict[str, Any] = _json_dict()
    created_at: datetime | None = _time(nullable=False)
    expires_at: datetime | None = _time(nullable=False)
    used_at: datetime | None = _time()


class AccessToken(SQLModel, table=True):
    """Platform access tokens shared by every process, with their expiry."""

    key: str = Field(primary_key=True, max_length=200)
    token: str = Field(sa_type=Text)
    expires_at: datetime | None = _time(nullable=False)


class ServerSecret(SQLModel, table=True):
    """A secret the server generated once and every process shares (the dashboard-link key when none is set)."""

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_type=Text)
    created_at: datetime | None = _time(nullable=False)


class SweepRules(SQLModel, table=True):
    """The rules each by-change sweep last judged its stored instants with; when they differ, it recomputes all."""

    sweep: str = Field(primary_key=True, max_length=32)
    fingerprint: str = Field(sa_type=Text)
    applied_at: datetime | None = _time(nullable=False)


class AuditLog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _time(nullable=False, index=True)
    actor: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=200)
    detail: dict[str, Any] = _json_dict()


class SimMessage(SQLModel, table=True):
    """What the local channel delivered: the chat log shown by the web simulator."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: str | None = Field(default=None, max_length=128, index=True)  # the address, user or not
    chat_id: str | None = Field(default=None, max_length=128)
    direction: str = Field(max_length=4)  # in | out
    kind: str = Field(max_length=16)
    payload: dict[str, Any] = _json_dict()
    at: datetime | None = _time(nullable=False)


class RuleVersion(SQLModel, table=True):
    """One saved rule configuration: the rule files' YAML text and the module switches; the newest row is active."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime | None = _time(nullable=False)
    author: str = Field(max_length=64)
    why: str = Field(sa_type=Text)
    based_on: int | None = Field(default=None)  # the version the editor started from (None: the files on disk)
    restored_from: int | None = Field(default=None)  # a rollback copies this version
    files: dict[str, Any] = _json_dict()  # file name → YAML text
    modules: dict[str, Any] = _json_dict()  # module → on/off, overriding config.yaml's `modules:`


# --- health rescore bookkeeping -------------------------------------------------------------
# Kept with every write of a score input, in the writer's transaction, so the health tick never has to scan.

RESCORE_INPUTS = ("stage", "last_update_at", "status", "customer_id")


@event.listens_for(Opportunity, "before_update")
def _opportunity_changed(mapper: Any, connection: Any, target: Opportunity) -> None:
    """A new stage, a status update or a close changes the stage clock: rescore at the next tick."""
    state = inspect(target)
    if any(state.attrs[name].history.has_changes() for name in RESCORE_INPUTS):
        target.health_rescore_at = RESCORE_NOW


@event.listens_for(Touch, "after_insert")
@event.listens_for(Touch, "after_update")
@event.listens_for(FeedbackHit, "after_insert")
@event.listens_for(FeedbackHit, "after_update")
def _evidence_written(mapper: Any, connection: Any, target: Touch | FeedbackHit) -> None:
    """New evidence counts from its own instant: its customer's open opportunities are due no later than that."""
    if target.customer_id is None or target.at is None:
        return
    due = Opportunity.health_rescore_at  # type: ignore[assignment]
    connection.execute(
        update(Opportunity)
        .where(Opportunity.customer_id == target.customer_id, Opportunity.status == "open",
               or_(due.is_(None), due > target.at))  # type: ignore[union-attr, operator]
        .values(health_rescore_at=target.at)
    )
