"""The first screen of a finished study's HTML report, as a user sees it: make the report with
the study's own config, open it in headless Chromium (Debian's `chromium`) and save a
screenshot. Writes JSON: the files, the window, and whether the verdicts are on the page.

    .venv/bin/python benchmarks/report_screenshot.py --study <workdir> \
        --png docs/default-study/report-first-screen.png --json benchmarks/report_screenshot.json \
        [--configfile ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--study", type=Path, required=True)
    parser.add_argument("--png", type=Path, required=True)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--configfile", nargs="*", default=[])
    parser.add_argument("--window", default="1400,1000")
    args = parser.parse_args()
    html = args.study / "results" / "report.html"
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
    command += ["--report", str(html)]
    if args.configfile:
        command += ["--configfile", *map(str, args.configfile)]
    subprocess.run(command, cwd=args.study, check=True, capture_output=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("no chromium here: apt-get install -y chromium")
    args.png.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--window-size={args.window}",
            "--virtual-time-budget=8000",
            f"--screenshot={args.png.resolve()}",
            f"file://{html.resolve()}",
        ],
        check=True,
        capture_output=True,
    )
    page = html.read_text()
    result = {
        "study": str(args.study),
        "report": str(html),
        "screenshot": str(args.png),
        "window": args.window,
        "verdicts_on_the_landing_page": "augablate-answer" in page and "Verdicts (" in page,
        "html_bytes": html.stat().st_size,
    }
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
