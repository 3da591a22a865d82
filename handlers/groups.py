"""In a group chat the bot answers the sender alone: its replies carry customers, amounts, contacts and links
that other members of the group — other reps, or the customer — must not see."""

from __future__ import annotations

from dataclasses import replace

from bot.cards import Reply
from bot.events import Context, Event, Handler, Route


def private(handler: Handler) -> Handler:
    """The handler, with every reply to a group-chat event addressed to the sender instead of the group."""

    def answer(event: Event, ctx: Context) -> Reply | list[Reply] | None:
        result = handler(event, ctx)
        if event.chat is None or result is None:
            return result
        replies = [result] if isinstance(result, Reply) else list(result)
        for reply in replies:  # a card update rewrites the clicked card where it already is
            if reply.kind != "card_update" and reply.to_chat in (None, event.chat) and reply.to_user is None:
                reply.to_chat, reply.to_user = None, ctx.user.id
        return replies

    return answer


def private_routes(routes: list[Route]) -> list[Route]:
    return [replace(route, handler=private(route.handler)) for route in routes]
