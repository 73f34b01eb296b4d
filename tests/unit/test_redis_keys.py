"""Every Redis key is spelled once, in infra/redis_keys.py: a module that writes its own `infrabot:...`
literal (plain or the start of an f-string) fails here, so keys cannot scatter again."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from infra import redis_keys

REPO = Path(__file__).resolve().parents[2]
SOURCE = ("bots", "core", "jobs", "infra", "config", "telemetry", "scripts")
KEYS_MODULE = REPO / "infra" / "redis_keys.py"
# A key is the namespace followed directly by more of the name; "infrabot: invalid setting" is prose.
KEY_LITERAL = re.compile(rf"^{re.escape(redis_keys.NAMESPACE)}\S")


def key_literals(path: Path) -> list[str]:
    """`file:line: literal` for each string constant (f-string parts included) that looks like a key."""
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY_LITERAL.match(node.value)
    ]


def test_no_module_but_redis_keys_spells_a_redis_key() -> None:
    files = [p for package in SOURCE for p in sorted((REPO / package).rglob("*.py")) if p != KEYS_MODULE]
    assert len(files) > 50
    found = [hit for path in files for hit in key_literals(path)]
    assert found == [], "import these from infra/redis_keys.py instead:\n" + "\n".join(found)


def test_the_check_sees_plain_and_f_string_keys(tmp_path: Path) -> None:
    """Guards the check above against passing vacuously."""
    module = tmp_path / "m.py"
    module.write_text(
        'A = "infrabot:queue"\n'
        'def f(k):\n    return f"infrabot:ctx:{k}"\n'
        'B = "infrabot: invalid setting X"\n'
        'C = "infrabot-net"\n'
    )
    assert [hit.split(": ", 1)[1] for hit in key_literals(module)] == ["'infrabot:queue'", "'infrabot:ctx:'"]


def test_every_key_is_in_the_namespace_and_no_two_kinds_share_one() -> None:
    values = {
        name: value for name, value in vars(redis_keys).items()
        if name.isupper() and isinstance(value, str) and name not in {"NAMESPACE", "LEADER_NAME"}
    }
    assert all(v.startswith(redis_keys.NAMESPACE) for v in values.values()), values
    # The leader lease shares the bare namespace as its prefix; every other constant is its own key.
    shared = {n for n, v in values.items() if v == redis_keys.NAMESPACE}
    assert shared == {"LEADER_PREFIX"}
    distinct = [v for n, v in values.items() if n not in shared]
    assert len(distinct) == len(set(distinct)), values
    assert redis_keys.relay_list_key("slack").startswith(redis_keys.RELAY_PREFIX + ":")
    assert redis_keys.relay_list_key("") == redis_keys.RELAY_NEW != redis_keys.relay_list_key("discord")
    assert redis_keys.THREAD_MARKER_TTL_SECONDS >= redis_keys.EVENT_TTL_SECONDS > redis_keys.EVENT_PENDING_SECONDS
