"""Writing one section of BENCHMARKS.md: each benchmark script owns its ``## <name>`` section and replaces only it.

Example (from a script in benchmarks/): ``write_section("NAVE", "| a | b |\\n|---|---|")``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "# Benchmarks\n\nMeasured figures; each section is written by its script in benchmarks/.\n"


def write_section(section: str, markdown: str, path: Path = ROOT / "BENCHMARKS.md") -> Path:
    """Replace (or append) the ``## <section>`` part of BENCHMARKS.md (created if missing), atomically."""
    from encoderscope._io import write_text

    text = path.read_text() if path.exists() else HEADER
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    block = f"## {section}\n\n{markdown.strip()}\n\n"
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    write_text(path, text.rstrip("\n") + "\n")
    return path


def all_rounds(times: dict[str, list[float]]) -> str:
    """One line listing every round's seconds per run (beside a table of the fastest rounds)."""
    return "All rounds (s): " + "; ".join(f"{name} " + ", ".join(f"{v:.2f}" for v in values)
                                         for name, values in times.items()) + "."


def _section_pattern(section: str) -> re.Pattern[str]:
    return re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)


def read_subsection(section: str, title: str, path: Path = ROOT / "BENCHMARKS.md") -> str | None:
    """The ``### <title>`` part (heading included) of section ``## <section>``, or ``None``."""
    if not path.exists():
        return None
    found = _section_pattern(section).search(path.read_text())
    if found is None:
        return None
    sub = re.search(rf"^### {re.escape(title)}\n.*?(?=^### |\Z)", found.group(0), re.S | re.M)
    return sub.group(0).strip() if sub else None


def write_subsection(section: str, title: str, markdown: str, path: Path = ROOT / "BENCHMARKS.md") -> Path:
    """Replace (or append) the ``### <title>`` part of section ``## <section>``; the rest of the section stays."""
    text = path.read_text() if path.exists() else HEADER
    found = _section_pattern(section).search(text)
    body = found.group(0)[len(f"## {section}\n"):].strip() if found else ""
    block = f"### {title}\n\n{markdown.strip()}"
    pattern = re.compile(rf"^### {re.escape(title)}\n.*?(?=^### |\Z)", re.S | re.M)
    body = pattern.sub(lambda _: block + "\n\n", body).strip() if pattern.search(body) else f"{body}\n\n{block}".strip()
    return write_section(section, body, path)
