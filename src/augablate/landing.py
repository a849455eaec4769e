"""The first screen of ``snakemake --report``: the study's answer, not a pointer to it.

Snakemake opens its HTML report on the workflow's description (the ``report:`` file of the
Snakefile, reStructuredText). After a study, the report rule writes :data:`LANDING`: the
answer section of ``results/report.md`` (verdict table, effect sentences, what the design can
detect), the main figures, and the config files and command that made the study. The
Snakefile uses it as the description when it exists, so the page a user opens shows the
verdicts, and it describes the study whose results it bundles, whatever config the
``--report`` call itself was given.
"""

from __future__ import annotations

import base64
import html
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Where the report rule writes the landing page (relative to the working directory).
LANDING = "results/report-landing.rst"
#: And the config that made the study, to check a later ``--report`` call against.
STUDY_RECORD = "results/report-study.json"
#: The figures shown on the first screen: the first three of these the study has.
MAIN_FIGURES = (
    "main_effects",
    "interactions",
    "contrasts",
    "learning_curves_accuracy",
    "final_accuracy",
)


def answer_markdown(report: str) -> str:
    """The answer of a report in markdown: its ``## Answer`` section, preceded by the factorial
    design's section when the study has one (headings of those sections kept, the first's
    dropped)."""
    lines = report.splitlines()
    try:
        answer = lines.index("## Answer")
    except ValueError:
        raise ValueError("the report has no '## Answer' section") from None
    start = next((i for i, line in enumerate(lines) if line.startswith("## Factorial")), answer)
    end = next(
        (i for i in range(answer + 1, len(lines)) if lines[i].startswith("## ")),
        len(lines),
    )
    return "\n".join(lines[start + 1 : end]).strip() + "\n"


def _image(path: Path, title: str) -> str:
    # in lines of 76 characters: docutils refuses lines over 10,000 characters, and browsers
    # skip the white space of a base64 data URI
    data = base64.encodebytes(Path(path).read_bytes()).decode("ascii")
    return (
        f'<figure style="margin:1em 0"><img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{data}" style="max-width:100%">'
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
    )


def landing_page(
    *,
    title: str,
    report: str,
    figures: Mapping[str, tuple[str, Path]],
    config_files: Sequence[str],
    command: str,
) -> str:
    """The landing page as reStructuredText (one raw HTML block under a title).

    ``report``: the markdown of ``results/report.md``; ``figures``: registry name ->
    (title, PNG path); the :data:`MAIN_FIGURES` among them are embedded as data URIs (the
    HTML report is one self-contained file).
    """
    import markdown

    answer = markdown.markdown(answer_markdown(report), extensions=["tables"])
    shown = [_image(*reversed(figures[name])) for name in MAIN_FIGURES if name in figures][:3]
    files = "".join(f"<li><code>{html.escape(f)}</code></li>" for f in config_files)
    body = "\n".join(
        [
            # Snakemake centres the description beside the job graph: a taller block would lose
            # its top above the page, so the block keeps within the screen and scrolls
            '<div class="augablate-answer" style="max-height:88vh;overflow-y:auto;'
            'padding-right:1em">',
            answer,
            *shown,
            "<h3>What made this study</h3>",
            f"<p>Config files, later ones overriding earlier ones:</p><ul>{files}</ul>",
            f"<p>Reproduce:</p><pre>{html.escape(command)}</pre>",
            "<p>The full report with every table and the protocol is "
            "<code>results/report.md</code> (category Report below); every figure is under "
            "Figures.</p>",
            "</div>",
        ]
    )
    heading = f"augablate: {title}"
    # Snakemake renders the description with Jinja before docutils: {% raw %} keeps the
    # study's text as it is
    return (
        f"{heading}\n{'=' * len(heading)}\n\n{{% raw %}}\n.. raw:: html\n\n"
        + textwrap.indent(body, "   ", lambda line: True)
        + "\n{% endraw %}\n"
    )


def study_record(config: Mapping, config_files: Sequence[str], command: str) -> dict:
    """What the report rule records of the study (:data:`STUDY_RECORD`)."""
    return {"config": config, "config_files": list(config_files), "command": command}


def check_report_call(record_path: Path | str, config: Mapping) -> None:
    """Refuse to make the HTML report of a study with another config than the one that made
    it: Snakemake would bundle this study's results under the other config's description.
    Nothing to check before a study has written its record."""
    import json

    path = Path(record_path)
    if not path.exists():
        return
    record = json.loads(path.read_text())
    if json.loads(json.dumps(config)) != record["config"]:
        files = " ".join(
            f for f in record["config_files"] if not f.startswith("config/config.yaml (")
        )
        options = f" --configfile {files}" if files else ""
        raise ValueError(
            f"{path} records a study made by `{record['command']}` (config files: "
            f"{', '.join(record['config_files'])}), and this call's config differs from it: "
            f"make that study's report with its own config, e.g. "
            f"`snakemake --report results/report.html{options}`, or rerun the study first"
        )
