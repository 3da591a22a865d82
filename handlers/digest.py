"""`逐条处理` on a digest card: sends each folded item as its own card, with fresh buttons."""

from __future__ import annotations

from bot.cards import Card, Reply
from bot.events import Context, Event, Route, on_action
from handlers.groups import private_routes


def expand(event: Event, ctx: Context) -> list[Reply]:
    return [Reply.show(Card.from_dict(card)) for card in ctx.action_data["cards"]]


ROUTES: list[Route] = private_routes([on_action("digest:expand", expand)])
