"""The README documents every issue code, every setting and every command (datasette's test_docs idea)."""

from __future__ import annotations

import pytest

from exchange.cli import _parser
from exchange.events import EVENT_TYPES
from exchange.settings import REPO_ROOT, Settings
from exchange.validate import MESSAGE_CODES, RULES

README = (REPO_ROOT / "README.md").read_text()


@pytest.mark.parametrize("code", sorted({*RULES, *MESSAGE_CODES}))
def test_issue_code_documented(code):
    assert f"`{code}`" in README


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_setting_documented(field):
    assert f"`EXCHANGE_{field.upper()}`" in README


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_type_documented(event_type):
    assert f"`{event_type}`" in README


def commands() -> list[str]:
    parser = _parser()
    found = []
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            found += [f"exchange {name} {n}" for a in nested for n in a.choices] or [f"exchange {name}"]
    return found


@pytest.mark.parametrize("command", commands())
def test_command_documented(command):
    assert f"`{command}" in README


def test_readme_starts_with_the_two_commands():
    block = README.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert [line.split("#")[0].strip() for line in block] == [
        "pip install -e . && exchange serve", "pip install -e '.[test]' && python -m pytest"]
    assert "pip install -e '.[test]' && python -m pytest" in (REPO_ROOT / ".ci" / "run").read_text()
