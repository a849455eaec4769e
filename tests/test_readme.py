"""The README's two set-up commands are the ones CI runs and the workflow supports."""

import re

import pytest
from conftest import REPO, job_stats, run_snakemake, write_image_tree


def readme_commands():
    text = (REPO / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.+?)\n```", text, flags=re.S)


def test_readme_opens_with_the_run_and_test_commands():
    run, test = readme_commands()[:2]
    assert run.endswith("snakemake --cores 4") and "pip install -e '.[cpu]'" in run
    assert test.endswith("pytest")
    ci = (REPO / ".ci" / "run").read_text()
    assert test in ci, "the README's test command must be what .ci/run runs"


def test_pins_agree_across_pip_and_conda_routes():
    pyproject = (REPO / "pyproject.toml").read_text()
    pins = dict(re.findall(r'"([a-z0-9-]+)(?:\[[a-z-]+\])?==([^"]+)"', pyproject))
    assert pins["tensorflow-cpu"] == pins["tensorflow"], "the CPU and GPU routes pin one version"
    assert pins["tensorflow"].startswith("2.21") and pins["snakemake"].startswith("9.")
    files = [REPO / "environment.yml", *sorted((REPO / "workflow" / "envs").glob("*.yaml"))]
    for path in files:
        for name, version in re.findall(r"- ([a-z0-9-]+)==(\S+)", path.read_text()):
            assert pins.get(name) == version, (
                f"{path.name}: {name}=={version}, pyproject has {pins.get(name)}"
            )


@pytest.mark.slow
def test_the_readme_config_for_your_own_images_plans_a_study(tmp_path):
    """The minimal config the README gives for one's own images is valid as written and plans
    its trainings (it stands on the schema's defaults, not on config/config.yaml)."""
    text = (REPO / "README.md").read_text()
    config = re.search(r"```yaml\n(# my-study\.yaml\n.+?)```", text, flags=re.S).group(1)
    images = write_image_tree(tmp_path / "my-photos")
    (tmp_path / "my-study.yaml").write_text(config.replace("/data/my-photos", str(images)))
    result = run_snakemake(tmp_path, "-n", "--cores", "4", "--configfile", "my-study.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_stats(result.stdout)
    assert counts.get("import_folder") == 1 and counts.get("report") == 1, counts


def test_every_path_the_readme_promises_exists_after_a_study(smoke_study):
    """The "What you get" block names files a study writes: each pattern (``<job>`` and the
    like as wildcards, ``...`` any file below) matches something in a finished (smoke) study."""
    import fnmatch

    workdir, _ = smoke_study
    text = (REPO / "README.md").read_text()
    block = text.split("## What you get", 1)[1].split("```", 2)[1]
    patterns = []
    for line in block.splitlines():
        for word in line.split():
            if word.startswith(("results/", "logs/", "benchmarks/")):
                patterns.append(re.sub(r"<[a-z]+>", "*", word.replace("...", "**")))
    assert len(patterns) >= 15, patterns
    files = [str(path.relative_to(workdir)) for path in workdir.rglob("*") if path.is_file()]
    folders = [str(path.relative_to(workdir)) for path in workdir.rglob("*") if path.is_dir()]
    for pattern in patterns:
        stem = pattern.rstrip("/")
        found = fnmatch.filter(files, stem) or fnmatch.filter(folders, stem)
        found = found or fnmatch.filter(files, stem.replace("**", "*") + "*")
        assert found, f"README.md promises {pattern}, which the study did not write"


def test_the_readme_quotes_the_committed_default_study():
    """The README's answer of the default study is its committed effects table's, regenerated
    here: every main effect's verdict and 95% CI, and the median main effect's MDE."""
    import pandas as pd

    from augablate.report import effects_in_brief

    effects = pd.read_csv(REPO / "docs" / "default-study" / "tables" / "effects.csv")
    readme = " ".join((REPO / "README.md").read_text().split())
    assert " ".join(effects_in_brief(effects).split()) in readme
    main = effects[effects["kind"] == "main effect"]
    detectable = main["minimum_detectable_effect"].median() * 100
    assert f"detects a true difference of {detectable:.1f} points with 80% power" in readme


def test_the_statistics_doc_quotes_the_committed_known_answer_study():
    """docs/statistics.md's known-answer numbers are its committed table's, regenerated here."""
    import pandas as pd

    from augablate.analysis import study_power
    from augablate.report import answer_in_brief

    contrasts = pd.read_csv(REPO / "docs" / "known-answer" / "contrasts.csv")
    doc = " ".join((REPO / "docs" / "statistics.md").read_text().split())
    assert " ".join(answer_in_brief(contrasts).split()) in doc
    detectable = study_power(contrasts)["detectable"] * 100
    assert f"detects a true difference of {detectable:.1f} points with 80% power" in doc
    assert set(contrasts["verdict"]) == {"helps", "hurts"}  # every planted verdict recovered
