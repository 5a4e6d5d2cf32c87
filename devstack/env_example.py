"""Write ``.env.example`` from the settings class: every setting, its default, its comment.

``python -m devstack.env_example`` rewrites the file; ``tests/test_config.py`` fails when
the file and the class differ, so a new setting cannot be forgotten there. Every line is a
comment: copying the file to ``.env`` changes nothing until a line is uncommented.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from enum import Enum

from config import DEFAULT_SECRET_KEY, ROOT, Settings

SOURCE = ROOT / "config.py"
TARGET = ROOT / ".env.example"
HEADER = """\
# Settings of the equipment portal, read from the environment or from a .env file in the
# working directory. Generated from config.py by `python -m devstack.env_example`: do not
# edit by hand. Uncomment and change what differs from the default.
"""


def _comments(source: str) -> dict[int, str]:
    """Line number -> the comment on that line (without '#')."""
    out: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            out[token.start[0]] = token.string.lstrip("#").strip()
    return out


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.get_default(call_default_factory=True)
    if name == "secret_key" and value == DEFAULT_SECRET_KEY:
        return ""  # a development-only default: production needs a real one
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace(str(ROOT), "<checkout>")


def render() -> str:
    """The text of ``.env.example``."""
    source = SOURCE.read_text(encoding="utf-8")
    comments = _comments(source)
    settings_class = next(node for node in ast.parse(source).body
                          if isinstance(node, ast.ClassDef) and node.name == "Settings")  # fmt: skip
    fields = {node.lineno: node.target.id for node in settings_class.body
              if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
              and node.target.id in Settings.model_fields}  # fmt: skip
    lines = [HEADER]
    for lineno in range(settings_class.lineno, (settings_class.end_lineno or 0) + 1):
        comment = comments.get(lineno, "")
        if lineno in fields:
            name = fields[lineno]
            if comment:
                lines.append(f"# {comment}")
            lines.append(f"# {name.upper()}={_default(name)}")
        elif comment.startswith("---"):
            lines.append(f"\n# {comment.strip('- ').upper()}")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Rewrite ``.env.example``."""
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
