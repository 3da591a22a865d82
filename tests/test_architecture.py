"""The import arrows of docs/architecture.md, checked: a module that imports against them fails here.

The shell (`bot`) may import every room; capabilities (`handlers`, `scheduler`) import downwards and only the
shell's neutral vocabulary; `rules`, `nlp` and `store` import nothing of ours. Lazy imports inside functions count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("bot", "handlers", "scheduler", "rules", "nlp", "store")
VOCABULARY = {"bot.cards", "bot.events", "bot.links"}  # issue 17 moves these into a leaf package of their own
ALLOWED: dict[str, set[str]] = {
    "bot": set(ROOMS),
    # handlers → scheduler is the chat-handler-calls-a-sweep arrow issue 17 removes (health recompute).
    "handlers": {"handlers", "scheduler", "rules", "nlp", "store", *VOCABULARY},
    "scheduler": {"scheduler", "rules", "nlp", "store", *VOCABULARY},
    "rules": {"rules"},
    "nlp": {"nlp"},
    "store": {"store"},
}


def our_imports(source: str) -> set[str]:
    """Every module of ours a source file imports, as `room` or, for the shell, `bot.module`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                 else [])
        for name in names:
            parts = name.split(".")
            if parts[0] in ROOMS:
                found.add(".".join(parts[:2]) if parts[0] == "bot" and len(parts) > 1 else parts[0])
    return found


def broken_arrows(room: str, source: str) -> set[str]:
    allowed = ALLOWED[room]
    return {name for name in our_imports(source) if name not in allowed and name.split(".")[0] not in allowed}


@pytest.mark.parametrize("room", [room for room in ROOMS if room != "bot"])
def test_each_room_imports_only_along_the_arrows(room):
    broken = {f"{path.relative_to(ROOT)} → {name}" for path in sorted((ROOT / room).rglob("*.py"))
              for name in broken_arrows(room, path.read_text(encoding="utf-8"))}
    assert not broken, "imports against the arrows (docs/architecture.md):\n" + "\n".join(sorted(broken))


@pytest.mark.parametrize(("room", "source", "broken"), [
    ("store", "from rules.loader import RuleSet", {"rules"}),
    ("nlp", "def f():\n    import store.models", {"store"}),
    ("handlers", "from bot.runtime import Runtime", {"bot.runtime"}),
    ("handlers", "from bot.cards import Card\nfrom store import users", set()),
    ("scheduler", "from handlers import leads", {"handlers"}),
    ("rules", "from .schema import X\nimport yaml", set()),
])
def test_the_check_sees_a_broken_arrow(room, source, broken):
    assert broken_arrows(room, source) == broken
