"""语音速记: a voice message's transcript shown back to the rep (「识别为：…」 [对] [改一下]) before it counts."""

from __future__ import annotations

from bot.cards import Button, Card, Reply
from bot.events import Context, Event, Route, on_action, on_kind
from handlers.groups import private_routes
from store import dialogs

TEXT = {
    "title": "🎙️ 识别为：",
    "note": "对了就点「对」，会像打字一样记入日报和客户；不对就点「改一下」。",
    "ok": "对",
    "fix": "改一下",
    "ask_fix": "请直接发送正确的文字，我会用它替换识别结果。",
    "off": "语音未开启转文字，这条语音已保存。请直接打字告诉我要点（客户、进展、待办）。",
    "failed": "语音识别暂时失败，这条语音已保存，没有丢失。请稍后重发，或直接打字告诉我要点。",
    "too_long": "这条语音 {seconds} 秒，超过语音识别的 {limit} 秒上限，没有转文字；语音已保存。请分段发送（每段不超过 "
                "{limit} 秒），或直接打字。",
    "empty": "没有从这条语音里识别出文字，语音已保存。请靠近话筒再说一次，或直接打字。",
}

CONFIRM = "voice:ok"  # the inbox sends the transcript through the typed-chat path (bot.voice)
FIX = "voice:fix"
FIX_FLOW = "voice:fix"  # the next typed message is the corrected transcript (bot.voice)


def transcript_card(transcript: str, msg_id: str) -> Card:
    data = {"msg_id": msg_id}
    return Card(title=TEXT["title"], lines=[transcript], note=TEXT["note"],
                buttons=[Button(TEXT["ok"], CONFIRM, data, "primary"), Button(TEXT["fix"], FIX, data)])


def on_voice(event: Event, ctx: Context) -> Reply:
    """The outcome bot.voice stored with the event: a transcript to confirm, or why there is none."""
    outcome = event.payload.get("voice") or {"status": "off"}
    status = outcome["status"]
    if status == "ok":
        return Reply.show(transcript_card(outcome["transcript"], event.msg_id))
    if status == "too_long":
        return Reply.say(TEXT["too_long"].format(seconds=round(outcome["seconds"]), limit=round(outcome["limit"])))
    return Reply.say(TEXT[status])


def ask_fix(event: Event, ctx: Context) -> Reply:
    dialogs.start(ctx.session, user_id=ctx.user.id, flow=FIX_FLOW, step="text",
                  data={"msg_id": ctx.action_data["msg_id"], "channel": event.channel}, now=ctx.now)
    return Reply.say(TEXT["ask_fix"])


ROUTES: list[Route] = private_routes([on_kind("voice", on_voice), on_action(FIX, ask_fix)])
