"""A dialog as a declared list of steps: ask the first open question, take the answer, finish when none is left."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_flow
from store import dialogs

Data = dict[str, Any]

TEXT = {
    "stale": "这张卡片对应的问题已经回答过或已失效，请按最新的提示继续。",
}


class Step(Protocol):
    """One kind of question; `name` prefixes the keys it asks (e.g. `field:industry`)."""

    name: str

    def open(self, ctx: Context, data: Data) -> str | None:
        """The key of the question this step still needs answered, or None when it is done."""

    def ask(self, ctx: Context, data: Data, key: str) -> Card:
        """The card for that question; its buttons answer it with `Flow.button(value)`."""

    def answer(self, ctx: Context, data: Data, key: str, value: str) -> str | None:
        """Takes the answer into `data`; returns why it was refused, or None."""


def answer_button(flow: str, key: str, label: str, value: str, style: str = "default") -> Button:
    """A button that answers question `key` of `flow` with `value`, as if the rep had typed it."""
    return Button(label, f"{flow}:answer", {"key": key, "value": value}, style)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Flow:
    """Steps are tried in order, so a new question is one more entry in `steps`."""

    name: str
    steps: Sequence[Step]
    finish: Callable[[Context, Data], list[Reply]]

    def button(self, key: str, label: str, value: str, style: str = "default") -> Button:
        return answer_button(self.name, key, label, value, style)

    def proceed(self, ctx: Context, data: Data) -> list[Reply]:
        """Asks the next open question (keeping the state in the dialog table), or finishes."""
        for step in self.steps:
            key = step.open(ctx, data)
            if key is not None:
                key = f"{step.name}:{key}"
                if ctx.dialog is not None and ctx.dialog.flow == self.name:
                    dialogs.advance(ctx.session, ctx.dialog, step=key, data=data, now=ctx.now)
                else:
                    ctx.dialog = dialogs.start(ctx.session, user_id=ctx.user.id, flow=self.name, step=key,
                                               data=data, now=ctx.now)
                return [Reply.show(step.ask(ctx, data, key.split(":", 1)[1]))]
        dialogs.clear(ctx.session, ctx.user.id)
        ctx.dialog = None
        return self.finish(ctx, data)

    def take(self, ctx: Context, key: str, value: str) -> list[Reply]:
        assert ctx.dialog is not None
        name, _, sub = key.partition(":")
        step = next((s for s in self.steps if s.name == name), None)
        data = copy.deepcopy(ctx.dialog.data)  # a fresh value, or the JSON column would not see the change
        if step is None:  # a question this version no longer asks: ask whatever is open now
            return self.proceed(ctx, data)
        refusal = step.answer(ctx, data, sub, value)
        if refusal:
            return [Reply.say(refusal), Reply.show(step.ask(ctx, data, sub))]
        return self.proceed(ctx, data)

    def on_text(self, event: Event, ctx: Context) -> list[Reply]:
        assert ctx.dialog is not None
        return self.take(ctx, ctx.dialog.step, ctx.args)

    def on_button(self, event: Event, ctx: Context) -> list[Reply]:
        key = ctx.action_data.get("key")
        if ctx.dialog is None or ctx.dialog.flow != self.name or ctx.dialog.step != key:
            return [Reply.say(TEXT["stale"])]
        return self.take(ctx, key, str(ctx.action_data.get("value", "")))

    def routes(self) -> list[Route]:
        return [on_flow(self.name, self.on_text), on_action(f"{self.name}:answer", self.on_button)]
