"""`/dash/…`: dashboards opened from signed links in cards; every view is checked against the link's viewer."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from sqlmodel import Session

from bot.links import LinkRefused
from bot.runtime import Runtime
from bot.web import dash_data
from store import access, audit
from store.db import session_scope
from store.models import Opportunity, User

STATIC = files("bot.web").joinpath("static")
TEXT = {
    "expired": "链接已过期，请在聊天里重新发送「看板」获取新链接。",
    "invalid": "链接无效或已被修改。",
    "foreign": "您无权查看这个页面。",
    "gone": "这个商机不存在。",
    "page": "看板",
}


class Refused(Exception):
    """A link that opens nothing; `detail` is what the person is told, from the page's catalogue (`text`)."""

    def __init__(self, reason: str, text: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.detail = (text or TEXT)[reason]


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter()
    page = files("bot.web").joinpath("dash.html").read_text(encoding="utf-8")
    denied = files("bot.web").joinpath("dash_denied.html").read_text(encoding="utf-8")

    def viewer(session: Session, token: str, path: str) -> User:
        try:
            grant = runtime.signer.verify(token, path, runtime.clock.now())
        except LinkRefused as refused:
            raise Refused(refused.reason) from None
        user = session.get(User, grant.viewer)
        if user is None or not user.active:
            raise Refused("foreign")
        return user

    def in_scope(session: Session, opportunity_id: int, t: str) -> tuple[User, Opportunity]:
        """The link's viewer and the opportunity, if the viewer may see it now (roles and teams change)."""
        user = viewer(session, t, f"opportunity/{opportunity_id}")
        opp = session.get(Opportunity, opportunity_id)
        if opp is None or not access.can_see_opportunity(session, user, opp):
            raise Refused("foreign")
        return user, opp

    def home_check(t: str) -> dict[str, Any]:
        with session_scope(runtime.engine) as session:
            viewer(session, t, "home")
        return {}

    def opportunity_check(opportunity_id: int, t: str) -> dict[str, Any]:
        with session_scope(runtime.engine) as session:
            in_scope(session, opportunity_id, t)
        return {}

    def home_data(t: str) -> dict[str, Any]:
        """The data behind the page (the page itself holds none): a manager's read is audited with the ids shown."""
        with session_scope(runtime.engine) as session:
            user = viewer(session, t, "home")
            now = runtime.clock.now()
            data = dash_data.home(session, runtime.rules, user, now, runtime.clock.tz)
            for item in data["pipeline"]["items"]:  # each row opens its own page, signed for the same viewer
                path = f"opportunity/{item['id']}"
                item["href"] = f"/dash/{path}?t={runtime.signer.token(user.id, path, now)}"
            shown = sorted({item["customer_id"] for item in data["pipeline"]["items"]})
            audit.read(session, user, at=now, target="dash:home", via="dash", customers=shown)
            return data

    def opportunity_data(opportunity_id: int, t: str) -> dict[str, Any]:
        with session_scope(runtime.engine) as session:
            user, opp = in_scope(session, opportunity_id, t)
            now = runtime.clock.now()
            audit.read(session, user, at=now, target=audit.customer(opp.customer_id), via="dash",
                       opportunity=opp.id)
            return dash_data.opportunity(session, runtime.rules, opp, now, runtime.clock.tz)

    @api.get("/dash/static/echarts.min.js")
    def echarts() -> Response:
        return FileResponse(str(STATIC.joinpath("echarts.min.js")), media_type="application/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    def answer(load: Callable[[], dict[str, Any]], *, html: bool) -> Response:
        """The page or its JSON; a refused link gets a 403 in the same form (a Chinese page for people)."""
        try:
            data = load()
        except Refused as exc:
            if html:
                return HTMLResponse(denied.replace("{{title}}", TEXT["page"]).replace("{{reason}}", str(exc.detail)),
                                    status_code=403)
            return JSONResponse({"detail": exc.detail}, status_code=403)
        return HTMLResponse(page) if html else JSONResponse(data)

    @api.get("/dash/api/home")
    def home_json(t: str = "") -> Response:
        return answer(lambda: home_data(t), html=False)

    @api.get("/dash/api/opportunity/{opportunity_id}")
    def opportunity_json(opportunity_id: int, t: str = "") -> Response:
        return answer(lambda: opportunity_data(opportunity_id, t), html=False)

    @api.get("/dash/home")
    def home_page(t: str = "") -> Response:
        return answer(lambda: home_check(t), html=True)

    @api.get("/dash/opportunity/{opportunity_id}")
    def opportunity_page(opportunity_id: int, t: str = "") -> Response:
        return answer(lambda: opportunity_check(opportunity_id, t), html=True)

    return api
