"""Size bounds of the SDK's shape (docs/architecture.md): no module in ``src/`` over 600 lines,
no class over 400, ``Session`` under 150. A module past them is where a god object grows back;
``make lint`` runs this and names each one.

Usage: ``python tools/check_sizes.py [SRC]`` (exit 1 and one line per breach).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MODULE_LINES = 600
CLASS_LINES = 400
SESSION_LINES = 150
#: generated data, not code
SKIP = ("artifacts",)


def breaches(src: Path) -> list[str]:
    out: list[str] = []
    for path in sorted(src.rglob("*.py")):
        if any(part in SKIP for part in path.parts):
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MODULE_LINES:
            out.append(f"{path}: {lines} lines (a module has at most {MODULE_LINES})")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if not isinstance(node, ast.ClassDef) or node.end_lineno is None:
                continue
            size = node.end_lineno - node.lineno + 1
            bound = SESSION_LINES - 1 if node.name == "Session" else CLASS_LINES
            if size > bound:
                out.append(
                    f"{path}:{node.lineno}: class {node.name} is {size} lines (at most {bound})"
                )
    return out


def main(argv: list[str]) -> int:
    src = Path(argv[1] if len(argv) > 1 else "src")
    found = breaches(src)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
