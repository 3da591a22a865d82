"""The industry template catalogue: ready-made `industries:` entries an admin enables in leads.yaml with one click."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from rules.schema import Industry

TEMPLATES_DIR = Path(__file__).parent

TEXT = {
    "unknown": "没有名为「{name}」的行业模板（可选：{known}）。",
    "bad_yaml": "leads.yaml 不是合法的 YAML：{error}",
    "not_mapping": "leads.yaml 的顶层必须是键值映射。",
    "bad_industries": "leads.yaml 的 industries 必须是行业列表，每个行业都要有 name。",
    "origin": "# 行业模板「{label}」（{name}）",
}

Entry = dict[str, Any]  # one `industries:` item as YAML reads it
WORD_LISTS = ("aliases", "keywords")  # the lists a message is matched against, besides the name
_LINE_WIDTH = 100


class _TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: str = Field(min_length=1)  # which customers it is for
    industry: Industry


@dataclass(frozen=True)
class Template:
    name: str  # the file's stem, what `enable` takes: real_estate
    label: str  # the industry as reps and cards name it: 房地产
    summary: str
    industry: Industry  # the entry `enable` puts into leads.yaml


class TemplateError(ValueError):
    """Why a template could not be enabled, in Chinese for the admin."""


@cache
def _load() -> tuple[Template, ...]:
    templates = []
    for path in sorted(TEMPLATES_DIR.glob("*.yaml")):
        parsed = _TemplateFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        templates.append(Template(path.stem, parsed.industry.name, parsed.summary, parsed.industry))
    return tuple(templates)


def catalogue() -> list[Template]:
    """Every shipped template, by name."""
    return list(_load())


def enable(leads_yaml: str, name: str) -> str:
    """leads.yaml's text with the template's industry in it: an industry of the same name is replaced in place,
    otherwise the template is appended. Its words leave the other industries, so a message still names one industry;
    a word that is another industry's own name stays with that industry. The rest of the file and its comments are
    kept; a layout too unusual to edit line by line is written out afresh (without comments)."""
    template = _template(name)
    document = _document(leads_yaml)
    entries: list[Entry] = document.get("industries") or []
    entry = _claimable(template.industry, entries)
    words = {w.casefold() for w in _words(entry)}
    plan: list[Entry | None] = []  # per existing entry: what it becomes (None: a duplicate of the template, dropped)
    for old in entries:
        if old["name"] != entry["name"]:
            plan.append(_without(old, words))
        else:
            plan.append(None if entry in plan else entry)
    appended = entry not in plan
    expected = {**document, "industries": [e for e in plan if e is not None] + ([entry] if appended else [])}
    edited = _edit(leads_yaml, entries, plan, entry if appended else None, template)
    if edited is not None and yaml.safe_load(edited) == expected:
        return edited
    return yaml.safe_dump(expected, allow_unicode=True, sort_keys=False, width=_LINE_WIDTH)


def _template(name: str) -> Template:
    found = next((t for t in _load() if t.name == name), None)
    if found is None:
        known = "、".join(f"{t.name}（{t.label}）" for t in _load())
        raise TemplateError(TEXT["unknown"].format(name=name, known=known))
    return found


def _document(leads_yaml: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(leads_yaml)
    except yaml.YAMLError as exc:
        raise TemplateError(TEXT["bad_yaml"].format(error=str(exc).replace("\n", " "))) from None
    if not isinstance(document, dict):
        raise TemplateError(TEXT["not_mapping"])
    entries = document.get("industries") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str)
                                                for e in entries):
        raise TemplateError(TEXT["bad_industries"])
    return document


def _words(entry: Entry) -> list[str]:
    return [entry["name"], *(w for key in WORD_LISTS for w in entry.get(key) or [] if isinstance(w, str))]


def _claimable(industry: Industry, entries: list[Entry]) -> Entry:
    """The template as an entry, minus aliases and keywords that are another industry's own name."""
    names = {e["name"].casefold() for e in entries if e["name"] != industry.name}
    entry: Entry = industry.model_dump(exclude_defaults=True)
    for key in WORD_LISTS:
        if key in entry:
            entry[key] = [w for w in entry[key] if w.casefold() not in names]
    return entry


def _without(entry: Entry, words: set[str]) -> Entry:
    """The entry with the given words gone from its aliases and keywords."""
    kept = {key: [w for w in entry[key] if not (isinstance(w, str) and w.casefold() in words)]
            for key in WORD_LISTS if isinstance(entry.get(key), list)}
    return {**entry, **kept}


# --- editing the text line by line -------------------------------------------------------------------------------

_SECTION = re.compile(r"industries:\s*(#.*)?\n?")
_ITEM = re.compile(r"(\s*)-(\s|$)")
_TOP_KEY = re.compile(r"[^\s#-]")  # a line starting the next top-level key


def _edit(text: str, entries: list[Entry], plan: list[Entry | None], appended: Entry | None,
          template: Template) -> str | None:
    """The text with only the changed items rewritten; None when the layout is not the plain block list expected."""
    lines = (text if text.endswith("\n") else text + "\n").splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _SECTION.fullmatch(line)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if _TOP_KEY.match(lines[i])), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1  # blank lines and column-0 comments at its end introduce the next key
    block = lines[start + 1:end]
    chunks, preamble, indent = _chunks(block)
    if len(chunks) != len(entries) or any(yaml.safe_load(textwrap.dedent("".join(c))) != [e]
                                          for c, e in zip(chunks, entries, strict=True)):
        return None
    out: list[str] = []
    for chunk, old, new in zip(chunks, entries, plan, strict=True):
        if new is None:
            continue
        if new == old:
            out += chunk
        elif new["name"] == template.label:
            out += _render(new, indent, template)
        else:
            rewritten = _rewrite_lists(chunk, old, new)
            if rewritten is None:
                return None
            out += rewritten
    if appended is not None:
        out += _render(appended, indent, template)
    return "".join(lines[:start + 1] + preamble + out + lines[end:])


def _chunks(block: list[str]) -> tuple[list[list[str]], list[str], str]:
    """The block's items (each with the comment lines just above it), the lines before the first, the items' indent."""
    first = next((_ITEM.match(line) for line in block if _ITEM.match(line)), None)
    indent = first.group(1) if first else "  "
    starts = [i for i, line in enumerate(block) if (m := _ITEM.match(line)) and m.group(1) == indent]
    bounds = []
    for n, i in enumerate(starts):
        floor = starts[n - 1] + 1 if n else 0
        while i > floor and (not block[i - 1].strip() or block[i - 1].lstrip().startswith("#")):
            i -= 1
        bounds.append(i)
    chunks = [block[b:e] for b, e in zip(bounds, [*bounds[1:], len(block)], strict=True)]
    return chunks, block[:bounds[0]] if bounds else block, indent


def _rewrite_lists(chunk: list[str], old: Entry, new: Entry) -> list[str] | None:
    """The item with its changed `aliases:`/`keywords:` lines rewritten, its comments and other lines as they were."""
    lines = list(chunk)
    for key in WORD_LISTS:
        if old.get(key) == new.get(key):
            continue
        at = next((i for i, line in enumerate(lines) if re.match(rf"\s*(-\s+)?{key}:", line)), None)
        if at is None:
            return None
        prefix = lines[at][:lines[at].index(key)]
        column = len(prefix)
        end = at + 1
        while end < len(lines) and lines[end].strip() and len(lines[end]) - len(lines[end].lstrip()) > column:
            end += 1
        lines[at:end] = _flow_list(prefix + f"{key}: ", new[key])
    return lines


def _render(entry: Entry, indent: str, template: Template) -> list[str]:
    """A template's entry in the shipped file's style: word lists and questions each on one flow-style line."""
    inner = indent + "  "
    out = [indent + TEXT["origin"].format(label=template.label, name=template.name) + "\n",
           f"{indent}- name: {_scalar(entry['name'])}\n"]
    for key in WORD_LISTS:
        if key in entry:
            out += _flow_list(f"{inner}{key}: ", entry[key])
    for key in ("evidence", "roles"):
        if entry.get(key):
            out.append(f"{inner}{key}:\n")
            out += [f"{inner}  - {_flow(question)}\n" for question in entry[key]]
    return out


def _flow_list(prefix: str, words: list[str]) -> list[str]:
    """`prefix[a, b, c]`, wrapped under the bracket when long."""
    lines, line = [], prefix + "["
    for n, word in enumerate(words):
        piece = _scalar(word) + (", " if n + 1 < len(words) else "")
        if len(line) + len(piece) > _LINE_WIDTH and not line.endswith("["):
            lines.append(line.rstrip() + "\n")
            line = " " * (len(prefix) + 1)
        line += piece
    return [*lines, line + "]\n"]


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10**9).strip()


def _scalar(word: str) -> str:
    return _flow([word])[1:-1]
