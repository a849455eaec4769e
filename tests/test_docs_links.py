"""The documentation's relative links lead to files in the tree, and the README stays short.

Pages were split out of the README (issue 21); a moved section or a renamed file would otherwise
leave links that lead nowhere, which nobody notices until a newcomer clicks one.
"""

import json
import re
from urllib.parse import unquote

import pytest
from conftest import REPO

PAGES = sorted(
    {
        REPO / "README.md",
        *(REPO / "docs").glob("*.md"),
        REPO / "benchmarks" / "README.md",
        REPO / "config" / "README.md",
    }
)

# [text](target) or [text](target "title"); the text may hold backquotes, not brackets.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.S | re.M)


def links(page):
    """Every link target of a markdown page, outside fenced code blocks."""
    return LINK.findall(FENCE.sub("", page.read_text()))


def relative_targets(page):
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I):  # http:, https:, mailto:
            continue
        path = unquote(target.split("#", 1)[0])
        if path:  # a bare "#anchor" points into the page itself
            yield target, path


def test_the_pages_exist():
    missing = [str(page.relative_to(REPO)) for page in PAGES if not page.exists()]
    assert not missing, f"documentation pages missing: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_lead_to_files_in_the_tree(page):
    broken = [
        target
        for target, path in relative_targets(page)
        if not (page.parent / path).resolve().exists()
    ]
    assert not broken, f"{page.relative_to(REPO)} links to missing files: {broken}"


def test_the_link_parser_finds_links():
    readme = list(relative_targets(REPO / "README.md"))
    assert ("config/README.md", "config/README.md") in readme
    assert any(path.startswith("docs/") for _, path in readme)


def test_the_readme_is_a_five_minute_read():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200, "README.md is over 200 lines: move detail to docs/"
    for phrase in ("this stop", "previous stop", "last CI run"):
        assert phrase not in text.lower(), f"README.md says {phrase!r}"


# Words of the lab notebook that mean nothing to a reader: when "this stop" was, what the last
# CI run did, how many tests passed (they change with every commit and are in CI's own logs).
NOTEBOOK = re.compile(r"this stop|previous stop|last ci run|\b\d+ (tests )?passed\b", flags=re.I)

# What the one training rule replaced (train_seed_1, train_seeds_1_2_3, train_none_to_...
# rules; runs under results/runs/, logs under logs/train/<variant>/): a page that still names
# them sends a reader to files no run makes.
RETIRED = re.compile(r"\btrain_seeds?_\d|\btrain_[a-z_]+_to_|results/runs/|logs/train/<variant>")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_pages_hold_no_lab_notebook_words(page):
    found = NOTEBOOK.findall(page.read_text())
    assert not found, f"{page.relative_to(REPO)} says {found}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_pages_name_no_retired_training_rule_or_layout(page):
    found = RETIRED.findall(page.read_text())
    assert not found, f"{page.relative_to(REPO)} names what the one train rule replaced: {found}"


def test_benchmarks_readme_quotes_the_default_study_timings_of_their_json():
    """The default study's wall times in benchmarks/README.md are default_study.json's; the
    one-at-a-time control timed the same hour, the one-at-a-time default before the switch and
    the code before it are theirs."""
    readme = " ".join((REPO / "benchmarks" / "README.md").read_text().split())
    for name in (
        "default_study",
        "default_study_one_at_a_time_control",
        "default_study_one_at_a_time",
    ):
        timed = json.loads((REPO / "benchmarks" / f"{name}.json").read_text())
        first, second = timed["wall_seconds"]
        median = timed["wall_seconds_median"]
        assert f"{first:.1f} and {second:.1f} s, median {median:.0f} s" in readme, name
    timed = json.loads((REPO / "benchmarks" / "default_study.json").read_text())
    assert f"a steady epoch of {timed['per_training_median']['steady_epoch']:.3f} s" in readme
    control = json.loads((REPO / "benchmarks" / "default_study_control_817d83f.json").read_text())
    assert f"{control['wall_seconds'][0]:.1f} s" in readme
