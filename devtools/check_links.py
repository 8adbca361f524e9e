"""Check the links of every Markdown file in the repository.

A user clones only this repository, so every link must work inside it:

- a relative link (`[x](docs/events.md)`, `![x](docs/screenshots/portal.png)`, `[x]: ../README.md`)
  must name a file or directory that exists in the repository;
- a `#fragment` on a Markdown file (or on its own, for the same file) must name a heading there
  (GitHub's anchors: lower case, punctuation dropped, spaces to `-`, `-1`, `-2` for repeats);
- no link may leave the repository (`../shared/contract.md` from the root), and a relative path
  written as code (`` `../x/y.md` ``) must stay inside it and exist: a reader of a clone has
  nothing else.

Links to `http(s)://`, `mailto:` and the like are not fetched. Links inside fenced code blocks
are ignored (they are examples, not links).

    python -m devtools.check_links [ROOT]     # exit 1 and one line per broken link
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

SKIP_DIRS = {
    ".git",
    ".venv",
    ".venv-sam",
    "node_modules",
    ".aws-sam",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
}
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
# [text](target) and ![alt](target); target optionally in <...>, optionally with a "title".
_INLINE = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_CODE_SPAN = re.compile(r"`([^`\s]+)`")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.target}: {self.reason}"


def markdown_files(root: Path) -> Iterator[Path]:
    """The repository's Markdown files: those git tracks or would (not ignored), or, outside a
    git checkout, every one not under a virtualenv, node_modules or a cache."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.md"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    inside_git = listed.returncode == 0 and (root / ".git").exists()
    if inside_git:
        names = {name for name in listed.stdout.decode().split("\0") if name}
        paths = sorted(root / name for name in names)
    else:
        paths = sorted(root.rglob("*.md"))
    for path in paths:
        parts = path.relative_to(root).parts
        if path.is_file() and not any(
            part in SKIP_DIRS or part.startswith(".venv") for part in parts
        ):
            yield path


def _lines_outside_fences(text: str) -> Iterator[tuple[int, str]]:
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif match.group(1) == fence:
                fence = None
            continue
        if fence is None:
            yield number, line


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: markup and punctuation dropped, lower case, spaces
    to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _lines_outside_fences(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        anchor = github_anchor(match.group(2))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_file(path: Path, root: Path) -> list[Problem]:
    problems: list[Problem] = []
    shown = path.relative_to(root)
    anchor_cache: dict[Path, set[str]] = {}

    def anchors(target: Path) -> set[str]:
        if target not in anchor_cache:
            anchor_cache[target] = anchors_of(target)
        return anchor_cache[target]

    for number, line in _lines_outside_fences(path.read_text(encoding="utf-8")):
        targets = [m.group(1) for m in _INLINE.finditer(line)]
        reference = _REFERENCE.match(line)
        if reference:
            targets.append(reference.group(1))
        for raw in targets:
            target = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
            if not target or _SCHEME.match(target) or target.startswith("//"):
                continue
            file_part, _, fragment = target.partition("#")
            if file_part.startswith("/"):
                problems.append(Problem(shown, number, target, "absolute path; use a relative one"))
                continue
            resolved = (path.parent / unquote(file_part)).resolve() if file_part else path
            if not _inside(resolved, root):
                problems.append(Problem(shown, number, target, "leaves the repository"))
                continue
            if not resolved.exists():
                problems.append(Problem(shown, number, target, "no such file"))
                continue
            is_markdown = resolved.suffix == ".md" and resolved.is_file()
            if fragment and is_markdown and unquote(fragment).lower() not in anchors(resolved):
                problems.append(Problem(shown, number, target, f"no heading #{fragment} there"))
        for match in _CODE_SPAN.finditer(line):
            written = match.group(1)
            if not written.startswith("../"):
                continue
            resolved = (path.parent / written).resolve()
            if not _inside(resolved, root):
                problems.append(Problem(shown, number, written, "path leaves the repository"))
            elif not resolved.exists():
                problems.append(Problem(shown, number, written, "no such file"))
    return problems


def check(root: Path) -> list[Problem]:
    root = root.resolve()
    problems: list[Problem] = []
    for path in markdown_files(root):
        problems.extend(check_file(path, root))
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    problems = check(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"error: {len(problems)} broken link(s) in Markdown files", file=sys.stderr)
        return 1
    count = sum(1 for _ in markdown_files(root.resolve()))
    print(f"links ok: {count} Markdown files, every relative link inside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
