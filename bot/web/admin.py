"""`/admin…`: the admin console, opened from a signed link minted for an admin; anyone else gets 403."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlmodel import Session

from bot.links import ADMIN, LinkRefused
from bot.runtime import Runtime
from bot.web import admin_data, admin_templates
from bot.web.dash import Refused
from store.db import session_scope
from store.models import User
from store.rule_versions import StaleVersion

TEXT = {
    "expired": "链接已过期，请在聊天里发送「看板」或运行 liuhen admin link 获取新链接。",
    "invalid": "链接无效或已被修改。",
    "foreign": "只有管理员可以打开管理后台。",
    "page": "管理后台",
}


class Edit(BaseModel):
    """A check or a save: the edited files' form data and the module switches (absent: unchanged)."""

    files: dict[str, Any] = {}
    modules: dict[str, bool] | None = None
    why: str = ""
    based_on: int | None = None


class Enabling(BaseModel):
    """A template to enable in leads.yaml: checked (preview) or saved as a new version."""

    name: str
    why: str = ""
    based_on: int | None = None


class Rollback(BaseModel):
    version: int
    based_on: int | None = None
    why: str = ""


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter()
    page = files("bot.web").joinpath("admin.html").read_text(encoding="utf-8")
    denied = files("bot.web").joinpath("dash_denied.html").read_text(encoding="utf-8")

    def admin(session: Session, token: str) -> User:
        """The link's viewer, if the link is genuine and unexpired and the viewer is an admin now."""
        try:
            grant = runtime.signer.verify(token, ADMIN, runtime.clock.now())
        except LinkRefused as refused:
            raise Refused(refused.reason, TEXT) from None
        user = session.get(User, grant.viewer)
        if user is None or not user.active or user.role != "admin":
            raise Refused("foreign", TEXT)
        return user

    def answer(work: Callable[[Session, User], Any], t: str,
               then: Callable[[Any], dict[str, Any]] | None = None) -> Response:
        """Runs `work` for an admin in one transaction, then `then` on its result once committed; a refused link is
        a 403, an invalid edit a 422, a stale one a 409, and none of them writes anything."""
        runtime.refresh()  # another process may have saved a version: edit on top of the newest
        try:
            with session_scope(runtime.engine) as session:
                result = work(session, admin(session, t))
        except Refused as exc:
            return JSONResponse({"detail": exc.detail}, status_code=403)
        except admin_data.Invalid as exc:
            return JSONResponse({"problems": [admin_data.problem(p) for p in exc.problems]}, status_code=422)
        except StaleVersion as exc:
            with session_scope(runtime.engine) as session:
                message = admin_data.stale_message(session, exc, runtime.clock.tz)
            return JSONResponse({"detail": message}, status_code=409)
        return JSONResponse(then(result) if then else result)

    def saved(row: Any) -> dict[str, Any]:
        runtime.refresh()  # this process at once; the others before their next sweep or inbox round
        return {"version": row.id}

    @api.get("/admin")
    def console(t: str = "") -> Response:
        try:
            with session_scope(runtime.engine) as session:
                admin(session, t)
        except Refused as exc:
            html = denied.replace("{{title}}", TEXT["page"]).replace("{{reason}}", exc.detail)
            return HTMLResponse(html, status_code=403)
        return HTMLResponse(page)

    @api.get("/admin/api/state")
    def state(t: str = "") -> Response:
        return answer(lambda session, _: admin_data.state(session, runtime.live.book, runtime.clock.tz), t)

    @api.post("/admin/api/check")
    def check(edit: Edit, t: str = "") -> Response:
        return answer(lambda session, _: admin_data.check(session, runtime.live.book, edit.files, edit.modules,
                                                          runtime.clock.now(), runtime.clock.tz), t)

    @api.post("/admin/api/save")
    def save(edit: Edit, t: str = "") -> Response:
        def write(session: Session, user: User) -> Any:
            return admin_data.save(session, runtime.live.book, files=edit.files, modules=edit.modules, why=edit.why,
                                   based_on=edit.based_on, author=user.id, at=runtime.clock.now())

        return answer(write, t, saved)

    @api.post("/admin/api/restore")
    def restore(rollback: Rollback, t: str = "") -> Response:
        def write(session: Session, user: User) -> Any:
            return admin_data.restore(session, version=rollback.version, based_on=rollback.based_on,
                                      why=rollback.why, author=user.id, at=runtime.clock.now())

        return answer(write, t, saved)

    @api.get("/admin/api/templates")
    def templates(t: str = "") -> Response:
        return answer(lambda *_: {"version": runtime.live.book.version,
                                  "templates": admin_templates.listing(runtime.live.book)}, t)

    @api.post("/admin/api/templates/check")
    def check_template(enabling: Enabling, t: str = "") -> Response:
        def preview(session: Session, _: User) -> Any:
            book = runtime.live.book
            return admin_data.check_texts(session, book, admin_templates.texts_with(book, enabling.name), None,
                                          runtime.clock.now(), runtime.clock.tz)

        return answer(preview, t)

    @api.post("/admin/api/templates/enable")
    def enable_template(enabling: Enabling, t: str = "") -> Response:
        def write(session: Session, user: User) -> Any:
            book = runtime.live.book
            return admin_data.save_texts(session, book, texts=admin_templates.texts_with(book, enabling.name),
                                         modules=None, why=enabling.why, based_on=enabling.based_on, author=user.id,
                                         at=runtime.clock.now())

        return answer(write, t, saved)

    return api

