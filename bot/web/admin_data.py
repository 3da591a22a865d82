"""What the admin console does: its state, checking an edit (problems and effects), saving and restoring versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session

from bot.config import ModulesConfig
from bot.rulebook import Book
from bot.web.admin_labels import CHOICES, FILES, LABELS, MODULES, VALUES
from rules import changes
from rules.behaviors import diff_versions, period
from rules.loader import Problem, RulesError, RuleSet, load_texts
from rules.schema import RULE_FILES, Question
from store import behaviors as behavior_store
from store import rule_versions
from store.models import RuleVersion, User
from store.opportunities import open_idle_since

TEXT = {
    "lights": {"green": "绿灯", "yellow": "黄灯", "escalated": "红灯（升级）"},
    "light_move": "红绿灯：{count} 个进行中的商机将由{before}变为{after}",
    "lights_same": "红绿灯：没有进行中的商机改变颜色",
    "quarter": "行为价值 {quarter}：{line}",
    "rank_move": "本月排行榜：{name} 第 {old} 名 → 第 {new} 名",
    "new_rank": "本月排行榜：{name} 进入第 {new} 名",
    "ranks_same": "本月排行榜：名次不变",
    "changed": "修改了：{titles}",
    "module_on": "开启模块：{name}",
    "module_off": "关闭模块：{name}",
    "nothing": "没有任何修改",
    "why_missing": "请填写修改说明",
    "unknown_file": "未知的规则文件",
    "stale": "规则已被 {author} 于 {at} 保存为版本 #{active}，您的修改基于版本 #{based_on}，没有保存。请刷新页面后重新修改。",
    "stale_first": "规则已被 {author} 于 {at} 保存为版本 #{active}，您的修改没有保存。请刷新页面后重新修改。",
    "no_version": "没有版本 #{version}",
    "restore_why": "恢复到版本 #{version}",
    "disk": "规则目录中的文件（尚无保存的版本）",
    "industry_added": "新增行业「{name}」：识别词 {words}；证据 {evidence}；决策角色 {roles}",
    "industry_removed": "删除行业「{name}」（已有商机保留原行业）",
    "industry_asks": "「{name}」的提问改为：证据 {evidence}；决策角色 {roles}",
    "words_gained": "「{name}」新增识别词：{words}",
    "words_moved": "「{name}」的识别词 {words} 改为识别为「{to}」",
    "words_lost": "「{name}」不再识别：{words}",
    "none": "无",
}
WHY = "why"  # the key a missing 说明 is reported under


class Invalid(Exception):
    """The edit does not validate: every problem, as `rules check` finds them; nothing was saved."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


def _model(rules: RuleSet, name: str) -> BaseModel:
    return getattr(rules, RULE_FILES[name][0])  # type: ignore[no-any-return]


def state(session: Session, book: Book, tz: ZoneInfo) -> dict[str, Any]:
    """Everything the page renders: the active version, its files as schema + data, the switches, the history."""
    people = _people(session)
    return {
        "version": book.version,
        "source": None if book.version else TEXT["disk"],
        "modules": [{"name": name, "label": label, "on": bool(getattr(book.modules, name))}
                    for name, label in MODULES.items()],
        "files": [{"name": name, "title": title, "schema": RULE_FILES[name][1].model_json_schema(),
                   "data": _model(book.rules, name).model_dump(mode="json"), "yaml": book.texts.get(name, "")}
                  for name, title in FILES.items()],
        "labels": LABELS,
        "choices": CHOICES,
        "values": VALUES,
        "history": [_summary(row, people, tz, book.version) for row in rule_versions.history(session)],
    }


def _people(session: Session) -> dict[str, str]:
    return {user_id: name for user_id, name in session.execute(select(User.id, User.name))}


def _summary(row: RuleVersion, people: dict[str, str], tz: ZoneInfo, active: int | None) -> dict[str, Any]:
    assert row.created_at is not None
    return {"id": row.id, "at": row.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            "author": people.get(row.author, row.author), "why": row.why, "restored_from": row.restored_from,
            "active": row.id == active}


def texts_for(book: Book, files: dict[str, Any]) -> dict[str, str]:
    """The version's YAML per file after the edit; a file whose data did not change keeps its text and comments."""
    unknown = [Problem(name, "-", TEXT["unknown_file"]) for name in files if name not in RULE_FILES]
    if unknown:
        raise Invalid(unknown)
    texts = dict(book.texts)
    for name, data in files.items():
        if data != _model(book.rules, name).model_dump(mode="json"):
            texts[name] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
    return texts


def validated(texts: dict[str, str]) -> RuleSet:
    try:
        return load_texts(texts)
    except RulesError as exc:
        raise Invalid(exc.found) from None


def switches(book: Book, modules: dict[str, bool] | None) -> ModulesConfig:
    return book.modules.model_copy(update={k: bool(v) for k, v in (modules or {}).items() if k in MODULES})


def effects(session: Session, book: Book, new: RuleSet, modules: ModulesConfig, texts: dict[str, str],
            at: datetime, tz: ZoneInfo) -> list[str]:
    """What saving would do, in words: files changed, switches flipped, lights that change, the leaderboard."""
    lines: list[str] = []
    changed = [name for name in FILES if texts.get(name) != book.texts.get(name)]
    if changed:
        lines.append(TEXT["changed"].format(titles="、".join(FILES[name] for name in changed)))
    for name, label in MODULES.items():
        before, after = getattr(book.modules, name), getattr(modules, name)
        if before != after:
            lines.append(TEXT["module_on" if after else "module_off"].format(name=label))
    if "stages.yaml" in changed:
        lines += _light_lines(session, book.rules, new, at)
    if "behaviors.yaml" in changed:
        lines += _behavior_lines(session, book.rules, new, at, tz)
    if "leads.yaml" in changed:
        lines += _industry_lines(book.rules, new)
    return lines or [TEXT["nothing"]]


def _light_lines(session: Session, old: RuleSet, new: RuleSet, at: datetime) -> list[str]:
    moves = changes.light_moves(old.stages, new.stages, open_idle_since(session), at)
    names = TEXT["lights"]
    return [TEXT["light_move"].format(count=n, before=names[b], after=names[a])
            for (b, a), n in sorted(moves.items())] or [TEXT["lights_same"]]


def _industry_lines(old: RuleSet, new: RuleSet) -> list[str]:
    """Industries added, removed or asking other questions, and the words that now name another industry."""
    found = changes.industry_changes(old.leads, new.leads)
    owner = {word: change.name for change in found for word in change.gained}
    lines = []
    for change in found:
        now = change.after
        if now is None:
            lines.append(TEXT["industry_removed"].format(name=change.name))
        elif change.before is None:
            lines.append(TEXT["industry_added"].format(name=change.name, words=_listed(change.gained),
                                                       evidence=_asks(now.evidence), roles=_asks(now.roles)))
        else:
            if (change.before.evidence, change.before.roles) != (now.evidence, now.roles):
                lines.append(TEXT["industry_asks"].format(name=change.name, evidence=_asks(now.evidence),
                                                          roles=_asks(now.roles)))
            if change.gained:
                lines.append(TEXT["words_gained"].format(name=change.name, words=_listed(change.gained)))
        moved: dict[str | None, list[str]] = {}
        for word in change.lost:
            moved.setdefault(owner.get(word), []).append(word)
        lines += [TEXT["words_moved"].format(name=change.name, words=_listed(words), to=to) if to else
                  TEXT["words_lost"].format(name=change.name, words=_listed(words)) for to, words in moved.items()]
    return lines


def _listed(words: list[str]) -> str:
    return "、".join(words) or TEXT["none"]


def _asks(questions: list[Question]) -> str:
    return _listed([q.label for q in questions])


def _behavior_lines(session: Session, old: RuleSet, new: RuleSet, at: datetime, tz: ZoneInfo) -> list[str]:
    before = {v.quarter: v for v in old.behaviors.versions}
    lines = [TEXT["quarter"].format(quarter=v.quarter, line=line) for v in new.behaviors.versions
             if v.quarter in before for line in diff_versions(before[v.quarter], v)]
    since, until, _ = period("month", at.astimezone(tz).date(), tz)
    counts = behavior_store.counts_by_code(session, since=since, until=until)
    people = _people(session)
    moves = changes.rank_moves(changes.repriced(old.behaviors, counts, people),
                               changes.repriced(new.behaviors, counts, people))
    lines += [TEXT["rank_move" if old_rank else "new_rank"].format(name=people.get(rep, rep), old=old_rank, new=new_rank)
              for rep, old_rank, new_rank in moves]
    return lines if moves else [*lines, TEXT["ranks_same"]]


def check(session: Session, book: Book, files: dict[str, Any], modules: dict[str, bool] | None, at: datetime,
          tz: ZoneInfo) -> dict[str, Any]:
    """The result shown before saving: problems per field, or what the change does."""
    try:
        texts = texts_for(book, files)
    except Invalid as exc:
        return {"problems": [problem(p) for p in exc.problems], "effects": []}
    return check_texts(session, book, texts, modules, at, tz)


def check_texts(session: Session, book: Book, texts: dict[str, str], modules: dict[str, bool] | None, at: datetime,
                tz: ZoneInfo) -> dict[str, Any]:
    """`check` for an edit already written as YAML texts (e.g. a template enabled in leads.yaml)."""
    try:
        new = validated(texts)
    except Invalid as exc:
        return {"problems": [problem(p) for p in exc.problems], "effects": []}
    return {"problems": [], "effects": effects(session, book, new, switches(book, modules), texts, at, tz)}


def problem(problem: Problem) -> dict[str, str]:
    return {"file": problem.file, "key": problem.key, "message": problem.message}


def save(session: Session, book: Book, *, files: dict[str, Any], modules: dict[str, bool] | None, why: str,
         based_on: int | None, author: str, at: datetime) -> RuleVersion:
    """A new version if the edit validates and nobody saved since `based_on` (Invalid / StaleVersion otherwise)."""
    return save_texts(session, book, texts=texts_for(book, files), modules=modules, why=why, based_on=based_on,
                      author=author, at=at)


def save_texts(session: Session, book: Book, *, texts: dict[str, str], modules: dict[str, bool] | None, why: str,
               based_on: int | None, author: str, at: datetime) -> RuleVersion:
    """`save` for an edit already written as YAML texts: the same 说明, validation and stale checks."""
    if not why.strip():
        raise Invalid([Problem(WHY, "-", TEXT["why_missing"])])
    validated(texts)
    return rule_versions.save(session, files=texts, modules=dict(switches(book, modules)), author=author,
                              why=why.strip(), based_on=based_on, at=at)


def restore(session: Session, *, version: int, based_on: int | None, why: str, author: str,
            at: datetime) -> RuleVersion:
    """A rollback is itself a new version: a copy of `version`'s files and switches."""
    old = session.get(RuleVersion, version)
    if old is None:
        raise Invalid([Problem(WHY, "-", TEXT["no_version"].format(version=version))])
    validated(old.files)
    return rule_versions.save(session, files=dict(old.files), modules=dict(old.modules), author=author,
                              why=why.strip() or TEXT["restore_why"].format(version=version), based_on=based_on,
                              at=at, restored_from=version)


def stale_message(session: Session, exc: rule_versions.StaleVersion, tz: ZoneInfo) -> str:
    row = session.get(RuleVersion, exc.active) if exc.active is not None else None
    if row is None or row.created_at is None:
        return TEXT["stale_first"].format(author="-", at="-", active=exc.active)
    author = session.get(User, row.author)
    values = {"author": author.name if author else row.author, "at": row.created_at.astimezone(tz).strftime("%H:%M"),
              "active": row.id, "based_on": exc.based_on}
    return TEXT["stale" if exc.based_on is not None else "stale_first"].format(**values)
