"""`看板`: a card with the viewer's own dashboard link, signed for them alone and expiring."""

from __future__ import annotations

from bot.cards import Card, Reply
from bot.events import Context, Event, Route, on_command
from bot.links import ADMIN, DASH, TTL
from handlers.groups import private_routes

TEXT = {
    "title": "📊 留痕看板",
    "rep": "您的商机红绿灯、健康度和行为积分。",
    "manager": "您团队的商机红绿灯、健康度、行为排行与日报价值。",
    "admin": "全公司的商机红绿灯、健康度、行为排行与预测。",
    "open": "打开看板",
    "note": "链接仅限本人使用，{days} 天内有效。",
    "help": "打开我的看板（签名链接）",
    "admin_title": "⚙️ 留痕管理后台",
    "admin_line": "开关模块、修改规则（线索、红绿灯、健康度、回款、积分、免打扰……）、查看和恢复历史版本。",
    "admin_open": "打开管理后台",
}


def show_dashboard(event: Event, ctx: Context) -> list[Reply]:
    """An admin also gets the admin console's link, signed for them alone like the dashboard's."""
    note = TEXT["note"].format(days=TTL.days)
    replies = [Reply.show(Card(title=TEXT["title"], lines=[TEXT.get(ctx.user.role, TEXT["rep"])],
                               link=(TEXT["open"], f"{DASH}home"), note=note))]
    if ctx.user.role == "admin":
        replies.append(Reply.show(Card(title=TEXT["admin_title"], lines=[TEXT["admin_line"]],
                                       link=(TEXT["admin_open"], f"{DASH}{ADMIN}"), note=note)))
    return replies


ROUTES: list[Route] = private_routes([on_command("看板", show_dashboard, help=TEXT["help"])])
