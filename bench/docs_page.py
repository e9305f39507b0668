"""docs/benchmarks.md, one section per benchmark script: a script replaces its own section
(or appends it) and leaves the rest of the page as it is."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def replace_section(title: str, text: str, docs: Path = DOCS) -> None:
    """`title` is the section's heading line (`## ...`); `text` its body."""
    current = docs.read_text() if docs.exists() else "# Benchmarks\n"
    section = f"{title}\n{text}"
    if title in current:
        head, _, rest = current.partition(title)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        current = head + section + ("\n" + tail if tail else "")
    else:
        current = current.rstrip() + "\n\n" + section
    docs.write_text(current)
