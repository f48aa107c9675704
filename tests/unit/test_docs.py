"""What the README and docs/ tell an operator to type exists, and their links lead somewhere.

Pages drift when code moves: a renamed subcommand, a deleted deploy file, a setting that
was renamed. Each check reads every page (tests/unit/doccheck.py) and fails naming the
page and what it names that is not there; the tests below the page checks prove each
check can fail.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import doccheck
import pytest

from gpu_docker.cli import build_parser
from gpu_docker.settings import Settings

PAGES = [doccheck.read_page(p) for p in doccheck.doc_files()]
SETTINGS = {f.name for f in dataclasses.fields(Settings)}


def _ids(pages: list[doccheck.Page]) -> list[str]:
    return [p.name for p in pages]


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_relative_link_and_anchor_resolves(page: doccheck.Page) -> None:
    assert doccheck.link_problems(page) == []


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_gpu_docker_command_is_in_the_cli(page: doccheck.Page) -> None:
    assert doccheck.cli_problems(page, build_parser()) == []


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_project_path_named_exists(page: doccheck.Page) -> None:
    assert sorted(doccheck.path_problems(page)) == []


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_package_name_named_exists(page: doccheck.Page) -> None:
    assert doccheck.module_problems(page) == []


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_setting_named_is_declared(page: doccheck.Page) -> None:
    assert doccheck.setting_problems(page, SETTINGS) == []


def test_the_readme_points_into_every_docs_page() -> None:
    index = doccheck.read_page(doccheck.ROOT / "docs" / "README.md").prose
    pages = sorted(p.name for p in (doccheck.ROOT / "docs").glob("*.md") if p.name != "README.md")
    assert [p for p in pages if f"({p})" not in index] == []


def test_the_chinese_quick_start_shows_the_english_commands() -> None:
    english = doccheck.command_lines(doccheck.read_page(doccheck.ROOT / "README.md"))
    chinese = doccheck.command_lines(doccheck.read_page(doccheck.ROOT / "README.zh-CN.md"))
    assert len(english) >= 8
    assert chinese == english


def test_the_chinese_mirror_page_sets_what_the_english_one_sets() -> None:
    docs = doccheck.ROOT / "docs"
    english = doccheck.read_page(docs / "mirrors.md")
    chinese = doccheck.read_page(docs / "zh-CN" / "mirrors.md")
    assert doccheck.command_lines(chinese) == doccheck.command_lines(english)
    assert set(chinese.code_lines) == set(english.code_lines)


# --- each check finds what it is for ---


def _page(text: str) -> doccheck.Page:
    return doccheck.read_page(doccheck.ROOT / "docs" / "sample.md", text)


def test_a_missing_file_or_anchor_is_found() -> None:
    page = _page("See [a](nope.md), [b](settings.md#nope) and [c](settings.md#settings).\n")
    problems = doccheck.link_problems(page)
    assert len(problems) == 2
    assert "nope.md" in problems[0] and "#nope" in problems[1]


def test_anchors_follow_githubs_rules() -> None:
    page = _page('# NVML "Unknown Error"\n\n## The toolkit\'s `config.toml`\n\n## A\n\n## A\n')
    assert doccheck.anchors(page) == {"nvml-unknown-error", "the-toolkits-configtoml", "a", "a-1"}


def test_an_unknown_subcommand_or_option_is_found() -> None:
    page = _page(
        "    gpu-docker lab up --online 1 --nope 2\n"
        "    .venv/bin/gpu-docker bundel list\n\n"
        "Run `gpu-docker lab down` then `gpu-docker bundle fetch 1.17.8 --arch amd64`.\n"
    )
    problems = doccheck.cli_problems(page, build_parser())
    assert len(problems) == 2
    assert "no option --nope" in problems[0] and "'bundel'" in problems[1]


def test_a_missing_path_is_found_and_globs_are_matched() -> None:
    page = _page(
        "    pyinfra inventories/lab.py deploys/nope.py\n\n"
        "See `tests/lab/test_reliability_*.py`, `sh/nope.sh` and files/debs/<version>/.\n"
    )
    assert sorted(doccheck.path_problems(page)) == [
        "docs/sample.md: deploys/nope.py does not exist",
        "docs/sample.md: sh/nope.sh does not exist",
    ]


def test_an_unknown_package_name_is_found() -> None:
    page = _page("`gpu_docker.facts.host_state` and `gpu_docker.settings.nope`\n")
    assert doccheck.module_problems(page) == [
        "docs/sample.md: gpu_docker.settings.nope is not in the package"
    ]


def test_an_undeclared_setting_is_found_in_each_form() -> None:
    page = _page(
        "Set `cdi=true`, `--data toolkit_verison=1`, `converge(project_root=x)`.\n\n"
        "    pyinfra inventories/lab.py deploys/verify.py --data report_pth=v.json\n\n"
        "The `restart_stratgy` setting and **`live_restor`** too.\n\n"
        "| setting | key |\n|---|---|\n| `runtime_mod` | x |\n"
    )
    found = doccheck.setting_problems(page, SETTINGS)
    names = sorted(line.split("'")[1] for line in found)
    assert names == [
        "live_restor",
        "report_pth",
        "restart_stratgy",
        "runtime_mod",
        "toolkit_verison",
    ]


def test_indented_prose_in_a_list_is_not_code() -> None:
    page = _page("- item\n  `a`\n\n  more prose\n\n      code line\n")
    assert page.code_lines == ("code line",)


def test_command_lines_join_continuations_and_drop_comments() -> None:
    page = _page("    gpu-docker bundle import x.tar.gz \\\n        --checksums y.txt   # note\n")
    assert doccheck.command_lines(page) == {"gpu-docker bundle import x.tar.gz --checksums y.txt"}


def test_pages_are_read_from_the_project() -> None:
    assert Path(doccheck.ROOT / "README.md") in doccheck.doc_files()
