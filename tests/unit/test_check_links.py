"""The Markdown link check CI runs (devtools/check_links.py): a good link passes, a broken one,
one that leaves the repository or names a missing heading fails, with the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.check_links import check, github_anchor, main


def _repo(tmp_path: Path, readme: str, guide: str = "# Guide\n\n## Order messages\n") -> Path:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "guide.md").write_text(guide, encoding="utf-8")
    (root / "docs" / "shot.png").write_bytes(b"png")
    (root / "README.md").write_text(readme, encoding="utf-8")
    (tmp_path / "outside.md").write_text("# not in the clone\n", encoding="utf-8")
    return root


def test_good_links_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(
        tmp_path,
        "# Readme\n\n"
        "See [the guide](docs/guide.md), [its orders](docs/guide.md#order-messages),\n"
        '![a picture](docs/shot.png "title"), [the docs](docs/), [top](#readme),\n'
        "[the site](https://example.com/x), [mail](mailto:a@example.com) and [ref][r].\n\n"
        "[r]: <docs/guide.md>\n\n"
        "```bash\n[not a link](nowhere.md)\n```\n",
        guide="# Guide\n\n## Order messages\n\nBack to the [readme](../README.md).\n",
    )
    for ignored in (".venv-fuzz/lib", "tools/node_modules/pkg"):
        (root / ignored).mkdir(parents=True)
        (root / ignored / "README.md").write_text("[gone](../../nowhere.md)\n")
    assert check(root) == []
    assert main([str(root)]) == 0
    assert "links ok: 2 Markdown files" in capsys.readouterr().out


def test_broken_link_fails_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path, "# Readme\n\nSee [the guide](docs/gide.md).\n")
    problems = check(root)
    assert [(str(p.file), p.line, p.target, p.reason) for p in problems] == [
        ("README.md", 3, "docs/gide.md", "no such file")
    ]
    assert main([str(root)]) == 1
    assert "README.md:3: docs/gide.md: no such file" in capsys.readouterr().err


def test_links_and_paths_leaving_the_repository_fail(tmp_path: Path) -> None:
    root = _repo(
        tmp_path,
        "# Readme\n\n"
        "The [contract](../outside.md) exists on this machine, not in a clone.\n"
        "So does `../outside.md`, written as code.\n"
        "And [absolute](/etc/passwd).\n",
    )
    reasons = [(p.line, p.reason) for p in check(root)]
    assert reasons == [
        (3, "leaves the repository"),
        (4, "path leaves the repository"),
        (5, "absolute path; use a relative one"),
    ]


def test_missing_heading_fails(tmp_path: Path) -> None:
    root = _repo(tmp_path, "# Readme\n\n[orders](docs/guide.md#refunds) and [self](#nothing)\n")
    assert [p.target for p in check(root)] == ["docs/guide.md#refunds", "#nothing"]


def test_github_anchors() -> None:
    assert github_anchor("Order messages") == "order-messages"
    assert github_anchor("`loyalty-local`, the CLI") == "loyalty-local-the-cli"
    assert github_anchor("Errors (4xx & 5xx)") == "errors-4xx--5xx"
    assert github_anchor("The [API](x.md) v1.1") == "the-api-v11"
