#!/usr/bin/env python3
"""Copies docs/policy.md, docs/performance.md and docs/hardening.md into README.md, between the
`<!-- BEGIN X -->` / `<!-- END X -->` markers, one heading level down. `make readme` runs it; with
--check it only reports whether README.md is in sync (exit 1 when not)."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = [
    ("POLICY", "The Kubewarden policy", "docs/policy.md", "_Also in `docs/policy.md`._"),
    ("PERF", "Performance", "docs/performance.md", "_Also in `docs/performance.md`; reproduce with `make bench`._"),
    ("HARDENING", "Hardening", "docs/hardening.md", "_Also in `docs/hardening.md`._"),
]


def demote(text):
    """The document without its title, every heading outside code blocks one level down."""
    lines = text.split("\n")
    if not lines[0].startswith("# "):
        sys.exit(f"expected a '# ' title, found {lines[0]!r}")
    out, in_code = [], False
    for line in "\n".join(lines[1:]).strip("\n").split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and re.match(r"^#{1,5} ", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


def synced(readme):
    for key, title, doc, note in SECTIONS:
        start, end = f"<!-- BEGIN {key} -->", f"<!-- END {key} -->"
        if start not in readme or end not in readme:
            sys.exit(f"README.md has no {start} ... {end} markers")
        with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
            text = f"## {title}\n\n{note}\n\n" + demote(f.read()) + "\n"
        a, b = readme.index(start) + len(start), readme.index(end)
        readme = readme[:a] + "\n" + text + readme[b:]
    return readme


def main():
    path = os.path.join(ROOT, "README.md")
    with open(path, encoding="utf-8") as f:
        readme = f.read()
    new = synced(readme)
    if "--check" in sys.argv[1:]:
        if new != readme:
            sys.exit("README.md is out of sync with docs/: run `make readme`")
        return
    if new != readme:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)


if __name__ == "__main__":
    main()
