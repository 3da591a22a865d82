"""The `liuhen` command line (also `python -m bot`): exit 0 done, 2 bad usage or input, 1 anything else."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import ConfigError, Settings, load_settings
from bot.orgfile import OrgFileError
from rules.loader import RulesError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.channels.wecom_api import WeComApi
    from bot.rulebook import Book

TEXT = {
    "description": "留痕：在企业微信和钉钉里把销售动作变成证据的销售管理助手",
    "migrated": "数据库已升级到最新版本。",
    "org_imported": "已导入 {teams} 个团队、{users} 个用户。",
    "rules_ok": "规则文件检查通过。",
    "no_customer": "没有名为「{name}」的客户（请用完整名称）",
    "purged": "已删除「{name}」的个人数据（客户 #{id}）：联系人 {contacts} 个，触达 {touches} 条已去除内容，"
              "反馈 {feedback} 条，待办 {todos} 条已清空。审计日志已记录。",
    "no_diff": "{old} 与 {new} 的行为价值图谱没有差异。",
    "no_jobs": "（暂无已注册的定时任务）",
    "unscheduled": "（未排期）",
    "module_off": "任务 {name} 所属的模块 {module} 未启用（config.yaml: modules.{module}，或管理后台的模块开关）",
    "unknown_job": "未知的任务：{name}（可用：{known}）",
    "job_done": "{name} 已按 {at} 运行，写入 {count} 条。",
    "flushed": "已投递 {count} 条消息。",
    "bad_date": "{flag}: 日期格式应为 YYYY-MM-DD，而不是 {value}",
    "bad_instant": "--at: 应为 ISO 8601 时间（带时区），而不是 {value}",
    "file_missing": "{path}: 文件不存在",
    "demo_ready": "留痕演示已启动：打开 http://{host}:{port}/sim （数据库 {db}）",
    "wecom_off": "wecom.enabled: 企业微信未启用，请先配置 corp_id、agent_id、secret、token、encoding_aes_key",
    "wecom_config": "wecom: 企业微信拒绝了应用凭据，请检查 corp_id、agent_id、secret（{error}）",
    "wecom_failed": "企业微信调用失败：{error}",
    "org_synced_wecom": "已从企业微信同步 {teams} 个部门（团队）、{users} 位成员，其中新增 {created} 位。",
    "dingtalk_off": "dingtalk.enabled: 钉钉未启用，请先配置 client_id、client_secret、robot_code",
    "dingtalk_config": "dingtalk: 钉钉拒绝了应用凭据，请检查 client_id、client_secret（{error}）",
    "dingtalk_failed": "钉钉调用失败：{error}",
    "org_synced_dingtalk": "已从钉钉同步 {teams} 个部门（团队）、{users} 位成员，其中新增 {created} 位。",
    "menu_created": "已为应用 {agent_id} 创建菜单：{words}",
    "no_user": "--as: 没有用户「{user}」（请用组织文件里的 id）",
    "not_admin": "{user}: 没有这个用户，或该用户不是管理员（role: admin），不能打开管理后台",
    "exported": "已把{version}的 {count} 个规则文件写入 {dir}",
    "version": "版本 #{id} ",
    "on_disk": "规则目录（尚无保存的版本）",
    "dir_missing": "{dir}: 目录不存在",
    "imported": "已从 {dir} 导入规则，保存为版本 #{id}（说明：{why}）",
    "import_why": "从 {dir} 导入",
}

log = logging.getLogger("liuhen")


class UsageError(Exception):
    """Bad input given on the command line: exit 2 with one line per problem."""


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def _date(flag: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(TEXT["bad_date"].format(flag=flag, value=value)) from None


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from store import migrate
    from store.db import make_engine

    migrate.upgrade(make_engine(_settings(args).database.url))
    print(TEXT["migrated"])
    return 0


def cmd_org_import(args: argparse.Namespace) -> int:
    from bot import orgfile
    from store import migrate
    from store.db import make_engine, session_scope

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(TEXT["file_missing"].format(path=path))
    teams, users = orgfile.parse(path)
    engine = make_engine(_settings(args).database.url)
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        summary = orgfile.apply(session, teams, users)
    print(TEXT["org_imported"].format(teams=summary.teams, users=summary.users))
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    from rules.loader import load_rules

    load_rules(_settings(args).rules_dir)
    print(TEXT["rules_ok"])
    return 0


def _book(settings: Settings) -> Book:
    """The rules and module switches in force: the active saved version, else the files and config.yaml."""
    from bot import rulebook
    from store import migrate
    from store.db import make_engine

    engine = make_engine(settings.database.url)
    migrate.upgrade(engine)
    return rulebook.read(settings, engine)


def cmd_rules_export(args: argparse.Namespace) -> int:
    book = _book(_settings(args))
    target = Path(args.dir)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in book.texts.items():
        (target / name).write_text(text, encoding="utf-8")
    where = TEXT["version"].format(id=book.version) if book.version else TEXT["on_disk"]
    print(TEXT["exported"].format(version=where, count=len(book.texts), dir=target))
    return 0


def cmd_rules_import(args: argparse.Namespace) -> int:
    from rules.loader import load_rules, rule_texts
    from store import migrate, rule_versions
    from store.db import make_engine, session_scope

    settings = _settings(args)
    source = Path(args.dir)
    if not source.is_dir():
        raise UsageError(TEXT["dir_missing"].format(dir=source))
    load_rules(source)  # exactly `rules check` on the directory: RulesError → exit 2, nothing saved
    why = args.why or TEXT["import_why"].format(dir=source)
    engine = make_engine(settings.database.url)
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        current = rule_versions.active(session)
        row = rule_versions.save(session, files=rule_texts(source), modules=current.modules if current else {},
                                 author=_operator(), why=why, based_on=current.id if current else None,
                                 at=datetime.now(settings.tz))
    print(TEXT["imported"].format(dir=source, id=row.id, why=why))
    return 0


def cmd_admin_link(args: argparse.Namespace) -> int:
    from bot.links import ADMIN, signer_for
    from store import migrate
    from store.db import make_engine, session_scope
    from store.models import User

    settings = _settings(args)
    engine = make_engine(settings.database.url)
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        user = session.get(User, args.user)
        if user is None or user.role != "admin" or not user.active:
            raise UsageError(TEXT["not_admin"].format(user=args.user))
    print(signer_for(settings, engine).url(args.user, ADMIN, datetime.now(settings.tz)))
    return 0


def cmd_rules_diff(args: argparse.Namespace) -> int:
    from rules.behaviors import diff
    from rules.loader import load_rules

    try:
        lines = diff(load_rules(_settings(args).rules_dir).behaviors, args.old, args.new)
    except KeyError as exc:
        raise UsageError(f"behaviors.yaml: versions: {exc.args[0]}") from None
    print("\n".join(lines) if lines else TEXT["no_diff"].format(old=args.old, new=args.new))
    return 0


def cmd_customer_purge(args: argparse.Namespace) -> int:
    from store import privacy
    from store.db import make_engine, session_scope

    settings = _settings(args)
    with session_scope(make_engine(settings.database.url)) as session:
        customer = privacy.find_customer(session, args.name)
        if customer is None:
            raise UsageError(TEXT["no_customer"].format(name=args.name))
        summary = privacy.purge_customer(session, customer, actor=args.actor, at=datetime.now(settings.tz))
    print(TEXT["purged"].format(name=args.name, id=summary.customer_id, contacts=summary.contacts,
                                touches=summary.touches, feedback=summary.feedback, todos=summary.todos))
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    from rules.loader import load_rules
    from scheduler.registry import JOBS

    schedule = load_rules(_settings(args).rules_dir).notify.schedule
    if not JOBS:
        print(TEXT["no_jobs"])
    for job in JOBS.values():
        print(f"{job.name}\t{job.module}\t{schedule.get(job.name, TEXT['unscheduled'])}\t{job.summary}")
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    from bot.clock import Clock
    from bot.modules import is_enabled
    from bot.runtime import scheduled_jobs
    from scheduler.registry import JOBS
    from scheduler.runner import run_sweep
    from store.db import make_engine

    settings = _settings(args)
    job = JOBS.get(args.name)
    if job is None:
        raise UsageError(TEXT["unknown_job"].format(name=args.name, known=", ".join(JOBS) or "-"))
    now = datetime.now(settings.tz)
    try:
        at = datetime.fromisoformat(args.at) if args.at else now
    except ValueError:
        raise UsageError(TEXT["bad_instant"].format(value=args.at)) from None
    if at.tzinfo is None:
        raise UsageError(TEXT["bad_instant"].format(value=args.at))
    book = _book(settings)  # the version a running serve uses
    if not is_enabled(book.modules, job.module):
        raise UsageError(TEXT["module_off"].format(name=job.name, module=job.module))
    scheduled = {each.name: each for each in scheduled_jobs(settings, book.modules, Clock(settings.tz).today)}
    count = run_sweep(make_engine(settings.database.url), scheduled[job.name], at, book.rules, settings.tz, now=now)
    print(TEXT["job_done"].format(name=job.name, at=at.isoformat(), count=count))
    return 0


def cmd_outbox_flush(args: argparse.Namespace) -> int:
    from bot.runtime import Runtime

    runtime = Runtime(_settings(args))
    print(TEXT["flushed"].format(count=runtime.dispatcher.flush()))
    return 0


def _with_platform(args: argparse.Namespace, platform: str, action: Callable[[Any, Engine, Settings], str]) -> int:
    """Runs one operator action against WeCom or DingTalk; a refused secret is bad config (2), anything else 1."""
    from bot.channels.dingtalk_api import DingTalkApi, DingTalkApiError
    from bot.channels.wecom_api import WeComApi, WeComApiError
    from bot.clock import Clock
    from store import migrate
    from store.db import make_engine

    settings = _settings(args)
    config = getattr(settings, platform)
    if not config.enabled:
        raise UsageError(TEXT[f"{platform}_off"])
    api_class, error_class = (WeComApi, WeComApiError) if platform == "wecom" else (DingTalkApi, DingTalkApiError)
    engine = make_engine(settings.database.url)
    migrate.upgrade(engine)  # the access token is kept in the database
    api = api_class(config, engine, Clock(settings.tz))
    try:
        print(action(api, engine, settings))
    except error_class as exc:
        if exc.is_config_error:
            raise UsageError(TEXT[f"{platform}_config"].format(error=exc)) from None
        print(TEXT[f"{platform}_failed"].format(error=exc), file=sys.stderr)
        return 1
    finally:
        api.close()
    return 0


def cmd_org_sync(args: argparse.Namespace) -> int:
    from bot.channels import dingtalk_org, wecom_setup
    from store.db import session_scope

    sync_org = wecom_setup.sync_org if args.platform == "wecom" else dingtalk_org.sync_org

    def sync(api: Any, engine: Engine, settings: Settings) -> str:
        with session_scope(engine) as session:
            summary = sync_org(api, session, now=datetime.now(settings.tz))
        return TEXT[f"org_synced_{args.platform}"].format(teams=summary.teams, users=summary.users,
                                                         created=summary.created)

    return _with_platform(args, args.platform, sync)


def cmd_wecom_menu(args: argparse.Namespace) -> int:
    from bot.channels.wecom_setup import MENU_MORE, MENU_TOP, install_menu

    def create(api: WeComApi, engine: Engine, settings: Settings) -> str:
        install_menu(api)
        return TEXT["menu_created"].format(agent_id=settings.wecom.agent_id, words="、".join(MENU_TOP + MENU_MORE))

    return _with_platform(args, "wecom", create)


def _operator() -> str:
    """Who ran the command, for the audit log: the operating-system account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def cmd_export(args: argparse.Namespace) -> int:
    from bot import export
    from store.db import make_engine, session_scope
    from store.models import User

    settings = _settings(args)
    window = export.Window(settings.tz, _date("--since", args.since), _date("--until", args.until))
    rules = _book(settings).rules
    with session_scope(make_engine(settings.database.url)) as session:
        viewer = session.get(User, args.as_user) if args.as_user else None
        if args.as_user and viewer is None:
            raise UsageError(TEXT["no_user"].format(user=args.as_user))
        rows = export.run(session, args.kind, window, rules, actor=_operator(), at=datetime.now(settings.tz),
                          viewer=viewer)
    sys.stdout.write(export.render(rows, args.format))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot import logs
    from bot.app import create_app
    from bot.runtime import Runtime

    settings = _settings(args)
    logs.install(settings)
    runtime = Runtime(settings)
    runtime.migrate()
    uvicorn.run(create_app(runtime), host=args.host or settings.server.host, port=args.port or settings.server.port,
                log_level="info")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from bot import demo
    from bot.app import create_app

    runtime = demo.prepare(db_path=Path(args.db), port=args.port)
    print(TEXT["demo_ready"].format(host=runtime.settings.server.host, port=args.port, db=args.db), flush=True)
    uvicorn.run(create_app(runtime), host=runtime.settings.server.host, port=args.port, log_level="info")
    return 0


def cmd_nlp_extract(args: argparse.Namespace) -> int:
    import nlp
    from rules.loader import load_rules

    settings = _settings(args)
    today = _date("--today", args.today) or datetime.now(settings.tz).date()
    customers: list[tuple[str, list[str]]] = []
    if args.customers:
        path = Path(args.customers)
        if not path.is_file():
            raise UsageError(TEXT["file_missing"].format(path=path))
        for line in path.read_text(encoding="utf-8").splitlines():
            name, *aliases = [part.strip() for part in line.split("\t")]
            if name:
                customers.append((name, [a for a in aliases if a]))
    vocabulary = load_rules(settings.rules_dir).reports.model_dump()
    lexicon = nlp.Lexicon.from_vocabulary(vocabulary, customers=customers)
    result = nlp.Extractor(lexicon).extract(sys.stdin.read(), today).to_dict()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from bot.export import EXPORTS

    parser = argparse.ArgumentParser(prog="liuhen", description=TEXT["description"])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], parent: argparse._SubParsersAction = sub,
                config: bool = True) -> argparse.ArgumentParser:
        p = parent.add_parser(name)
        if config:
            p.add_argument("--config", default=None)
        p.set_defaults(handler=handler)
        return p

    p = command("demo", cmd_demo, config=False)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--db", default="liuhen-demo.db")
    p = command("serve", cmd_serve)
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)

    db = sub.add_parser("db").add_subparsers(dest="db_command", required=True)
    command("upgrade", cmd_db_upgrade, db)

    org = sub.add_parser("org").add_subparsers(dest="org_command", required=True)
    command("import", cmd_org_import, org).add_argument("file")
    command("sync", cmd_org_sync, org).add_argument("platform", choices=["wecom", "dingtalk"])

    rules = sub.add_parser("rules").add_subparsers(dest="rules_command", required=True)
    command("check", cmd_rules_check, rules)
    p = command("diff", cmd_rules_diff, rules)
    p.add_argument("kind", choices=["behaviors"])
    p.add_argument("old")
    p.add_argument("new")
    command("export", cmd_rules_export, rules).add_argument("dir")
    p = command("import", cmd_rules_import, rules)
    p.add_argument("dir")
    p.add_argument("--why", default=None)

    admin = sub.add_parser("admin").add_subparsers(dest="admin_command", required=True)
    command("link", cmd_admin_link, admin).add_argument("user")

    customer = sub.add_parser("customer").add_subparsers(dest="customer_command", required=True)
    p = command("purge", cmd_customer_purge, customer)
    p.add_argument("name")
    p.add_argument("--actor", default="admin")

    jobs = sub.add_parser("jobs").add_subparsers(dest="jobs_command", required=True)
    command("list", cmd_jobs_list, jobs)
    p = command("run", cmd_jobs_run, jobs)
    p.add_argument("name")
    p.add_argument("--at", default=None)

    wecom = sub.add_parser("wecom").add_subparsers(dest="wecom_command", required=True)
    command("menu", cmd_wecom_menu, wecom)

    out = sub.add_parser("outbox").add_subparsers(dest="outbox_command", required=True)
    command("flush", cmd_outbox_flush, out)

    nlp_commands = sub.add_parser("nlp").add_subparsers(dest="nlp_command", required=True)
    p = command("extract", cmd_nlp_extract, nlp_commands)
    p.add_argument("--today", default=None)
    p.add_argument("--customers", default=None)

    p = command("export", cmd_export)
    p.add_argument("kind", choices=sorted(EXPORTS))
    p.add_argument("--format", choices=["json", "csv"], default="json")
    p.add_argument("--since", default=None)
    p.add_argument("--until", default=None)
    p.add_argument("--as", dest="as_user", default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ConfigError, RulesError, OrgFileError) as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        return 1
