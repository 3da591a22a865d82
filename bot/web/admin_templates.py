"""The console's 行业模板 page: the template catalogue against the active leads.yaml, and a template enabled as an edit."""

from __future__ import annotations

from typing import Any

from bot.rulebook import Book
from bot.web.admin_data import Invalid
from rules.loader import Problem
from rules.schema import Industry
from rules.templates import Template, TemplateError, catalogue, enable

LEADS = "leads.yaml"
TEXT = {
    "why": "启用行业模板「{label}」",
}
OFF, ON, EDITED = "off", "on", "edited"  # not in leads.yaml; in it as the template has it; in it, but not so


def listing(book: Book) -> list[dict[str, Any]]:
    """Every template with what it asks for and whether (and how) its industry is in the active leads.yaml."""
    industries = {industry.name: industry for industry in book.rules.leads.industries}
    names = {name.casefold() for name in industries}
    return [{"name": t.name, "label": t.label, "summary": t.summary,
             "words": [*t.industry.aliases, *t.industry.keywords],
             "evidence": [{"label": q.label, "choices": q.choices} for q in t.industry.evidence],
             "roles": [q.label for q in t.industry.roles],
             "state": _state(industries.get(t.label), t, names - {t.label.casefold()}),
             "why": TEXT["why"].format(label=t.label)}
            for t in catalogue()]


def _state(current: Industry | None, template: Template, others: set[str]) -> str:
    """ON when the industry is what enabling would write: the template less the words that are another industry's
    own name (they stay with it; see rules/templates)."""
    if current is None:
        return OFF
    kept = {key: [w for w in getattr(template.industry, key) if w.casefold() not in others]
            for key in ("aliases", "keywords")}
    return ON if current == template.industry.model_copy(update=kept) else EDITED


def texts_with(book: Book, name: str) -> dict[str, str]:
    """The active version's texts with the template enabled in leads.yaml (Invalid: unknown template, or a
    leads.yaml the template cannot be put into)."""
    try:
        return {**book.texts, LEADS: enable(book.texts[LEADS], name)}
    except TemplateError as exc:
        raise Invalid([Problem(LEADS, "-", str(exc))]) from None
