"""What ``evaluation.tensorboard: true`` costs a training, per epoch, on the smoke study.

Each repeat trains the smoke config's run (embedded digits at 24x24, the smoke CNN, variant
``all``, seed 1) twice, each in a fresh process, TensorBoard off then on (the order alternates
between repeats). Reported per epoch:

- ``writer_s_per_epoch``: seconds inside the event file's per-epoch write (the scalars of the
  epoch and a flush), timed around :meth:`augablate.tensorboard_log.EventLog.write` in the
  process: the direct cost, little affected by other work on the machine;
- ``open_s``: once per run, opening the file and writing the hyper-parameters (importing
  TensorBoard's summary code included);
- ``epoch_wall_s`` with and without: wall time from the first epoch's start to the last
  epoch's end over the epochs (training, evaluation, checkpoint and, when on, the event file),
  the median over repeats, and their difference: the end-to-end cost, noisy on a shared machine.

    .venv/bin/python benchmarks/tensorboard_cost.py --repeats 3 --epochs 10 \\
        --json benchmarks/tensorboard_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, statistics, sys, time
from dataclasses import replace
from pathlib import Path

import augablate.tensorboard_log as tensorboard_log
from augablate.settings import augmentation_settings, load_config, train_settings
from augablate.train import run_training

cache, out, epochs, on = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "on"
config = load_config(sys.argv[5])
settings = replace(train_settings(config), epochs=epochs)
timings = {"open": [], "write": []}
opening, writing = tensorboard_log.EventLog.__init__, tensorboard_log.EventLog.write


def timed(function, name):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        timings[name].append(time.perf_counter() - started)
        return result
    return wrapper


tensorboard_log.EventLog.__init__ = timed(opening, "open")
tensorboard_log.EventLog.write = timed(writing, "write")
metrics = run_training(
    cache, "all", 1, augmentation_settings(config), settings, out / "history.csv",
    out / "predictions.csv.gz", out / "metrics.json", threads=1,
    tensorboard=out / "tensorboard" if on else None,
)
timeline = metrics["timeline"]
print(json.dumps({
    "epoch_wall_s": (timeline["epoch_ends"][-1] - timeline["first_epoch_begin"]) / epochs,
    "open_s": timings["open"][0] if on else None,
    # the first write replays a fresh run's empty history; then one per epoch
    "writer_s_per_epoch": statistics.mean(timings["write"][1:]) if on else None,
    "run_wall_s": metrics["wall_seconds"],
}))
"""


def prepare_cache(work: Path, config: dict) -> Path:
    from augablate.data import build_cache, export_embedded

    images = export_embedded(work / "images")
    cache = work / "cache"
    build_cache(images, cache, size=config["data"]["image_size"], resize=config["data"]["resize"])
    return cache


def train(cache: Path, out: Path, epochs: int, mode: str, config: Path) -> dict:
    out.mkdir(parents=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-c", CHILD, str(cache), str(out), str(epochs), mode, str(config)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--config", type=Path, default=REPO / "config" / "smoke.yaml")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "tensorboard_cost.json")
    args = parser.parse_args()

    from augablate.settings import load_config

    config = load_config(args.config)
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        cache = prepare_cache(work, config)
        for repeat in range(args.repeats):
            order = ("off", "on") if repeat % 2 == 0 else ("on", "off")
            for mode in order:
                result = train(cache, work / f"{mode}-{repeat}", args.epochs, mode, args.config)
                runs[mode].append(result)
                print(mode, repeat, result, flush=True)
    median = {mode: statistics.median(r["epoch_wall_s"] for r in runs[mode]) for mode in runs}
    writer = [r["writer_s_per_epoch"] for r in runs["on"]]
    report = {
        "writer_s_per_epoch_median": statistics.median(writer),
        "open_s_median": statistics.median(r["open_s"] for r in runs["on"]),
        "epoch_wall_s_median_off": median["off"],
        "epoch_wall_s_median_on": median["on"],
        "epoch_wall_s_difference": median["on"] - median["off"],
        "writer_share_of_epoch": statistics.median(writer) / median["off"],
        "runs": runs,
        "settings": {
            "config": str(args.config.relative_to(REPO)),
            "variant": "all",
            "seed": 1,
            "epochs": args.epochs,
            "steps_per_epoch": config["train"]["steps_per_epoch"],
            "batch_size": config["train"]["batch_size"],
            "image_size": config["data"]["image_size"],
            "threads": 1,
            "repeats": args.repeats,
        },
        "machine": {
            "note": (
                "measured on a shared machine: 2 cores shared with a background training and "
                "other engineers' tests, so wall times (epoch_wall_s_*) carry their load; the "
                "writer's own time is the direct cost"
            ),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
