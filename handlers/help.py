"""`帮助` and `取消`: the command list of the enabled modules, and leaving any dialog."""

from __future__ import annotations

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_command
from bot.links import ADMIN, DASH
from store import dialogs

TEXT = {
    "title": "留痕 · 可用命令",
    "intro": "直接在聊天里发送下列命令即可，也可以点击应用菜单：",
    "note": "发送的产品链接、会议和方案 PDF 会自动记为有效触达，无需填表。",
    "cancelled": "已退出当前操作。",
    "nothing_to_cancel": "当前没有进行中的操作。",
    "help_usage": "帮助",
    "help_help": "查看可用命令",
    "cancel_help": "退出当前的多步操作",
    "again": "再看一遍",
    "admin": "管理后台（仅管理员）",
}


def help_card(ctx: Context) -> Card:
    """An admin's card also links the admin console, signed for them when delivered."""
    lines = [TEXT["intro"]] + [f"· {c.usage} —— {c.help}" for c in ctx.commands]
    return Card(
        title=TEXT["title"],
        lines=lines,
        note=TEXT["note"],
        buttons=[Button(TEXT["again"], "help:again")],
        link=(TEXT["admin"], f"{DASH}{ADMIN}") if ctx.user.role == "admin" else None,
    )


def show_help(event: Event, ctx: Context) -> Reply:
    return Reply.show(help_card(ctx))


def help_again(event: Event, ctx: Context) -> list[Reply]:
    return [Reply.show(help_card(ctx))]


def cancel(event: Event, ctx: Context) -> Reply:
    left = dialogs.clear(ctx.session, ctx.user.id)
    return Reply.say(TEXT["cancelled"] if left else TEXT["nothing_to_cancel"])


ROUTES: list[Route] = [
    on_command("帮助", show_help, help=TEXT["help_help"]),
    on_command("取消", cancel, help=TEXT["cancel_help"]),
    on_action("help:again", help_again),
]
