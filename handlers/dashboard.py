"""`看板`: a card with the viewer's own dashboard link, signed for them alone and expiring."""

from __future__ import annotations

from bot.cards import Card, Reply
from bot.events import Context, Event, Route, on_command
from bot.links import DASH, TTL
from handlers.groups import private_routes

TEXT = {
    "title": "📊 留痕看板",
    "rep": "您的商机红绿灯、健康度和行为积分。",
    "manager": "您团队的商机红绿灯、健康度、行为排行与日报价值。",
    "admin": "全公司的商机红绿灯、健康度、行为排行与预测。",
    "open": "打开看板",
    "note": "链接仅限本人使用，{days} 天内有效。",
    "help": "打开我的看板（签名链接）",
}


def show_dashboard(event: Event, ctx: Context) -> Reply:
    return Reply.show(Card(
        title=TEXT["title"], lines=[TEXT.get(ctx.user.role, TEXT["rep"])], link=(TEXT["open"], f"{DASH}home"),
        note=TEXT["note"].format(days=TTL.days),
    ))


ROUTES: list[Route] = private_routes([on_command("看板", show_dashboard, help=TEXT["help"])])
