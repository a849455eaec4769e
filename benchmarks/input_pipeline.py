"""Seconds per training epoch of the reference CNN under five input pipelines, in one process.

(a) reference: ImageDataGenerator.flow_from_directory, no augmentation
(b) reference: the same with the reference augmentation
(c) ours: tf.data over the decoded cache, no augmentation
(d) ours: the same with every transform
(e) floor: one in-memory batch repeated, no input work at all
plus the throughput of our augmented input pipeline alone (images per second, no model).

Data: the shared cats-vs-dogs copy when present (../shared/datasets/), else the embedded digits.
Each pipeline trains its own model for ``--epochs`` epochs of ``--steps`` steps, in interleaved
rounds (one epoch of each pipeline per round); round 0 (graph tracing, warm-up) is dropped and the
median of the others is reported. Validation is not part of the timed epoch. Example (a few minutes on 2 cores):

    .venv/bin/python benchmarks/input_pipeline.py --epochs 4 --json benchmarks/input_pipeline.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets" / "cats_and_dogs_filtered.zip"
REFERENCE_AUGMENTATION = dict(
    rotation_range=40,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=0.2,
    zoom_range=0.2,
    horizontal_flip=True,
    fill_mode="nearest",
)


def prepare_data(work: Path, size: int) -> tuple[Path, Path, str]:
    """Image folders and the decoded cache of the benchmark's data set."""
    from augablate.data import build_cache, export_embedded, extract_archive

    if SHARED.exists():
        images = extract_archive(SHARED, work / "images")
        name = "cats_and_dogs_filtered (shared copy)"
    else:
        images = export_embedded(work / "images")
        name = "digits (embedded)"
    cache = work / "cache"
    build_cache(images, cache, size=size, resize="nearest")
    return images, cache, name


def one_epoch(model, data, steps: int) -> float:
    """Seconds of one training epoch of ``steps`` steps (the fit call's own set-up excluded)."""
    import keras

    seconds: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    model.fit(data, steps_per_epoch=steps, epochs=1, callbacks=[Timer()], verbose=0)
    return seconds[0]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="steps per epoch (reference: 100)")
    parser.add_argument(
        "--epochs", type=int, default=4, help="rounds (epochs per pipeline); the first is dropped"
    )
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument(
        "--pipeline-batches", type=int, default=200, help="batches timed without a model"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is warm-up)")

    from augablate.train import configure_tensorflow

    tf = configure_tensorflow(args.threads, seed=1, deterministic=False)
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    from augablate.data import load_meta, load_split
    from augablate.model import build_model
    from augablate.pipeline import training_dataset
    from augablate.variants import AugmentationSettings

    with tempfile.TemporaryDirectory(prefix="augablate-bench-") as tmp:
        images, cache, data_name = prepare_data(Path(tmp), args.image_size)
        classes = load_meta(cache)["classes"]
        binary = len(classes) == 2
        size, batch = args.image_size, args.batch_size
        filters = [32, 64, 128, 128] if size >= 46 else [32, 64, 128]

        def model_factory():
            from augablate.protocol import TrainSettings

            return build_model(size, len(classes), TrainSettings(filters=list(filters)))

        train_images, train_labels = load_split(cache, "train")
        class_mode = "binary" if binary else "sparse"

        def reference(augment: bool):
            options = REFERENCE_AUGMENTATION if augment else {}
            generator = ImageDataGenerator(**options)  # pixels stay 0..255: the model rescales
            return generator.flow_from_directory(
                images / "train",
                target_size=(size, size),
                batch_size=batch,
                class_mode=class_mode,
                interpolation="nearest",
                seed=1,
            )

        all_transforms = AugmentationSettings()
        none = all_transforms.restricted_to([])

        def ours(settings):
            return training_dataset(
                train_images,
                train_labels,
                batch_size=batch,
                seed=1,
                settings=settings,
                binary=binary,
                threads=args.threads,
            )

        first = next(iter(ours(none)))
        floor_data = tf.data.Dataset.from_tensors(first).repeat()

        runs = [
            ("reference_noaug_s", lambda: reference(False)),
            ("reference_aug_s", lambda: reference(True)),
            ("ours_noaug_s", lambda: ours(none)),
            ("ours_aug_s", lambda: ours(all_transforms)),
            ("floor_s", lambda: floor_data),
        ]
        # Interleaved rounds: one epoch of every pipeline per round, so that a slow spell of
        # the machine hits all pipelines alike; round 0 (tracing, warm-up) is dropped.
        pipelines = {key: (model_factory(), make()) for key, make in runs}
        timings: dict = {key: [] for key in pipelines}
        for round_number in range(args.epochs):
            for key, (model, data) in pipelines.items():
                timings[key].append(one_epoch(model, data, args.steps))
            print(
                f"round {round_number}: "
                + ", ".join(f"{key} {timings[key][-1]:.2f}" for key in pipelines),
                flush=True,
            )
        results: dict = {key: statistics.median(every[1:]) for key, every in timings.items()}
        for key, seconds in results.items():
            print(f"{key:<20} {seconds:7.2f} s/epoch (median of rounds 1-{args.epochs - 1})")

        dataset = ours(all_transforms)
        iterator = iter(dataset)
        for _ in range(10):
            next(iterator)
        start = time.perf_counter()
        for _ in range(args.pipeline_batches):
            next(iterator)
        pipeline_seconds = time.perf_counter() - start
        results["pipeline_images_per_s"] = args.pipeline_batches * batch / pipeline_seconds

    consumed = args.steps * batch / results["ours_aug_s"]
    results.update(
        {
            "aug_over_noaug": results["ours_aug_s"] / results["ours_noaug_s"],
            "ours_over_reference_aug": results["ours_aug_s"] / results["reference_aug_s"],
            "ours_noaug_over_floor": results["ours_noaug_s"] / results["floor_s"],
            # the best ours_over_reference_aug any input pipeline could reach on this machine
            "floor_over_reference_aug": results["floor_s"] / results["reference_aug_s"],
            "training_images_per_s": consumed,
            "pipeline_over_training": results["pipeline_images_per_s"] / consumed,
            "epoch_timings_s": timings,
            "settings": {
                "data": data_name,
                "image_size": size,
                "batch_size": batch,
                "steps_per_epoch": args.steps,
                "epochs": args.epochs,
                "threads": args.threads,
                "filters": filters,
            },
            "environment": {
                "python": sys.version.split()[0],
                "tensorflow": tf.__version__,
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
            },
        }
    )
    targets = [
        ("aug_over_noaug", "<=", 1.05),
        ("ours_noaug_over_floor", "<=", 1.03),
        ("ours_over_reference_aug", "<=", 0.80),
        ("pipeline_over_training", ">=", 5.0),
    ]
    print()
    print(f"{'ratio':<26}{'measured':>10}  target")
    for key, op, target in targets:
        met = results[key] <= target if op == "<=" else results[key] >= target
        print(f"{key:<26}{results[key]:>10.3f}  {op} {target}  {'met' if met else 'MISSED'}")
    print(f"{'pipeline_images_per_s':<26}{results['pipeline_images_per_s']:>10.0f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
