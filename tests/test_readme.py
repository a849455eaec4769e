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
