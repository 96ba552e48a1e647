from pathlib import Path

from engine.config import docs

ROOT = Path(__file__).resolve().parents[2]


def test_config_docs_match_the_schema():
    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert text == docs.markdown(), "docs/config.md is stale: run python -m engine.config.docs > docs/config.md"


def test_every_key_is_documented_once():
    from engine.config import schema as config
    text = docs.markdown()
    for name in config.SCHEMA:
        assert text.count(f"| `{name}` |") == 1, name
