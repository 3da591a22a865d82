"""The lead required-field engine: what a lead text gives, what is still missing, and the auto-tag."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from rules.schema import LeadsFile, Question

AmountOf = Callable[[str], int | None]
DateOf = Callable[[str], date | None]
Lead = dict[str, Any]  # plain JSON, so a draft can live in the dialog table

DECIDER = "决策人"
EVIDENCE = "evidence:"
ROLE = "role:"

MESSAGES = {
    "unknown_industry": "不认识的行业「{value}」，请从按钮中选择（可选：{known}）。",
    "bad_amount": "没看懂金额「{value}」，请输入如「800万」「1.2亿」。",
    "bad_date": "没看懂日期「{value}」，请输入如「2026-12-31」。",
    "empty": "回答不能为空。",
}


def empty_lead() -> Lead:
    return {"industry": None, "budget": None, "budget_band": None, "decision_chain": [], "need_stage": None,
            "evidence": {}, "amount": None, "expected_close": None}


def budget_band(amount: int, rules: LeadsFile) -> str:
    return next(b.name for b in rules.budget_bands if b.below is None or amount < b.below)


def split_person(text: str, titles: list[str]) -> tuple[str, str]:
    """「王总 CTO」→ (王总, CTO): the last word is the title; run together (王总CTO), a known title ending it."""
    text = " ".join(text.split())
    name, _, title = text.rpartition(" ")
    if name:
        return name, title
    for title in sorted(titles, key=len, reverse=True):
        if text.endswith(title) and len(text) > len(title):
            return text[: -len(title)], title
    return text, ""


def industry_slots(lead: Lead, rules: LeadsFile) -> list[str]:
    industry = rules.industry(lead.get("industry") or "")
    if industry is None:
        return []
    return [EVIDENCE + q.key for q in industry.evidence] + [ROLE + q.key for q in industry.roles]


def filled(key: str, lead: Lead) -> bool:
    if key.startswith(EVIDENCE):
        return bool(lead["evidence"].get(key.removeprefix(EVIDENCE)))
    if key.startswith(ROLE):
        return any(p.get("role") == key.removeprefix(ROLE) for p in lead["decision_chain"])
    if key == "budget":
        return bool(lead.get("budget") or lead.get("budget_band"))
    return bool(lead.get(key))


def slots(lead: Lead, rules: LeadsFile, required: list[str] | None = None) -> list[str]:
    """What must be filled, in the order it is asked: the required fields, then (when the industry is
    required) the industry's own evidence and decision-chain roles."""
    keys = list(rules.required if required is None else required)
    return keys + (industry_slots(lead, rules) if "industry" in keys else [])


def missing(lead: Lead, rules: LeadsFile, required: list[str] | None = None) -> list[str]:
    return [key for key in slots(lead, rules, required) if not filled(key, lead)]


def question(key: str, lead: Lead, rules: LeadsFile) -> Question | None:
    if key.startswith((EVIDENCE, ROLE)):
        industry = rules.industry(lead.get("industry") or "")
        pool = (industry.evidence if key.startswith(EVIDENCE) else industry.roles) if industry else []
        return next((q for q in pool if q.key == key.split(":", 1)[1]), None)
    found = rules.field(key)
    if found and key == "industry":
        return found.model_copy(update={"choices": [i.name for i in rules.industries]})
    if found and key == "budget":
        return found.model_copy(update={"choices": [b.name for b in rules.budget_bands]})
    return found


def apply_answer(
    key: str, value: str, lead: Lead, rules: LeadsFile, *, amount_of: AmountOf, date_of: DateOf | None = None
) -> str | None:
    """Puts one answer into the draft; returns why it was refused, or None."""
    value = value.strip()
    if not value:
        return MESSAGES["empty"]
    if key == "industry":
        industry = rules.industry(value)
        if industry is None:
            return MESSAGES["unknown_industry"].format(value=value, known="、".join(i.name for i in rules.industries))
        lead["industry"] = industry.name
    elif key == "budget":
        if value in {b.name for b in rules.budget_bands}:
            lead["budget_band"] = value
            return None
        amount = amount_of(value)
        if amount is None:
            return MESSAGES["bad_amount"].format(value=value)
        lead["budget"], lead["budget_band"] = amount, budget_band(amount, rules)
    elif key == "amount":
        amount = amount_of(value)
        if amount is None:
            return MESSAGES["bad_amount"].format(value=value)
        lead["amount"] = amount
    elif key == "expected_close":
        day = date_of(value) if date_of else None
        if day is None:
            return MESSAGES["bad_date"].format(value=value)
        lead["expected_close"] = day.isoformat()
    elif key == "decision_chain" or key.startswith(ROLE):
        asked = question(key, lead, rules)
        name, title = ("", value) if asked and value in asked.choices else split_person(value, rules.titles)
        role = key.removeprefix(ROLE) if key.startswith(ROLE) else DECIDER
        lead["decision_chain"] = [p for p in lead["decision_chain"] if p.get("role") != role] + [
            {"name": name or title, "title": title, "role": role}]
    elif key.startswith(EVIDENCE):
        lead["evidence"] = {**lead["evidence"], key.removeprefix(EVIDENCE): value}
    else:
        lead[key] = value
    return None


def decision_title(lead: Lead) -> str:
    chain = lead["decision_chain"]
    decider = next((p for p in chain if p.get("role") == DECIDER), chain[0] if chain else {})
    return decider.get("title") or decider.get("name") or ""


def tag(lead: Lead, rules: LeadsFile) -> str:
    """The auto-tag, e.g. 教育行业-千万级预算-CTO决策; empty placeholders leave no stray dashes."""
    text = rules.tag_template.format(
        industry=lead.get("industry") or "", budget_band=lead.get("budget_band") or "",
        decision_title=decision_title(lead), need_stage=lead.get("need_stage") or "",
    )
    return re.sub(r"-{2,}", "-", text).strip("-")
