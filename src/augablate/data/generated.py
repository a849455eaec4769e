"""A generated data set whose answer is known: the check that the study finds real effects.

Two classes that are mirror images of each other: an "L" (a stem with a foot to the right) and
its reflection (the foot to the left). Training images are drawn upright and centred (within
+-10 degrees and +-3% of the width). Half of the validation images are turned by 45 to 90 degrees
(either way) and half are shifted sideways by 8% to 18% of the width. So, by construction:

- rotation must help: a model that has only seen upright glyphs has never seen a stem lying
  down, and ``config/known_answer.yaml`` augments with up to 90 degrees;
- the width shift must help: a sideways shift moves the stem towards where the other class has
  its foot, the confusion a model trained on centred glyphs makes, and the study augments with
  shifts of up to 20%;
- the horizontal flip must hurt: a flipped "L" is the other class, so flipping trains half the
  augmented images with the wrong label.

Measured while designing it: a model trained without augmentation copes with +-40 degrees and
with vertical shifts of 20%, so those would plant nothing; its errors came from large turns and
sideways shifts. A model that learned one invariance can do worse than no augmentation on the
other kind of change (rotation-trained models misread sideways shifts of 15-30% most of the
time, and how shift-trained models read turned glyphs varies from seed to seed by +-10 points),
so the shifts are kept moderate and the training glyphs slightly varied, which steadies those
side effects: then each planted transform wins clearly over the whole validation set.

Every image varies in stroke width, stem and foot length, grey level and background noise, so
that the classes are learned rather than memorized. Everything is drawn from one fixed seed:
the data set is the same on every machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("foot-left", "foot-right")
SIZE = 32  # pixels: the side of every generated image
COUNTS = {"train": 200, "validation": 500}  # images per class
ROTATION = (45.0, 90.0)  # degrees either way: the turned validation images
SHIFT = (0.08, 0.18)  # fraction of the width either way: the shifted ones
SEED = 20261126
CHANGES = ("turned", "shifted")  # validation image i gets CHANGES[i % 2]
JITTER = (10.0, 0.03)  # training: degrees either way, fraction of the width either way


def glyph(rng: np.random.Generator, foot_right: bool, scale: int = 4) -> np.ndarray:
    """One upright, centred glyph as a float image in [0, 1], drawn at ``scale`` times the
    final size (antialiased when it is reduced)."""
    side = SIZE * scale
    canvas = np.zeros((side, side), np.float32)
    stroke = rng.uniform(2.2, 3.6) * scale
    stem = rng.uniform(0.45, 0.6) * side
    foot = rng.uniform(0.22, 0.32) * side
    top = (side - stem) / 2
    left = side / 2 - stroke / 2 - (foot / 2 if foot_right else -foot / 2)
    rows, columns = np.mgrid[0:side, 0:side]
    in_stem = (rows >= top) & (rows < top + stem) & (columns >= left) & (columns < left + stroke)
    foot_top = top + stem - stroke
    if foot_right:
        foot_span = (columns >= left) & (columns < left + foot)
    else:
        foot_span = (columns >= left + stroke - foot) & (columns < left + stroke)
    in_foot = (rows >= foot_top) & (rows < top + stem) & foot_span
    canvas[in_stem | in_foot] = 1.0
    return canvas


def render(rng: np.random.Generator, foot_right: bool, change: str = "none") -> np.ndarray:
    """A uint8 RGB image of one glyph: ``none`` (a training glyph, upright and centred within
    the jitter), ``turned`` or ``shifted`` (validation glyphs)."""
    from PIL import Image

    scale = 4
    shape = Image.fromarray((glyph(rng, foot_right, scale) * 255).astype(np.uint8))
    either_way = rng.choice([-1.0, 1.0])
    if change == "turned":
        angle, dx = either_way * rng.uniform(*ROTATION), 0.0
    elif change == "shifted":
        angle, dx = 0.0, either_way * rng.uniform(*SHIFT)
    else:  # a training glyph: upright and centred, within the jitter
        angle, dx = rng.uniform(-JITTER[0], JITTER[0]), rng.uniform(-JITTER[1], JITTER[1])
    shape = shape.rotate(angle, resample=Image.Resampling.BILINEAR)
    shape = shape.transform(
        shape.size,
        Image.Transform.AFFINE,
        (1, 0, -dx * SIZE * scale, 0, 1, 0),
        Image.Resampling.BILINEAR,
    )
    small = np.asarray(shape.resize((SIZE, SIZE), Image.Resampling.BOX), np.float32) / 255
    ink, paper = rng.uniform(0.75, 1.0), rng.uniform(0.0, 0.2)
    grey = paper + (ink - paper) * small + rng.normal(0, 0.04, small.shape)
    return np.repeat((np.clip(grey, 0, 1) * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def export_known_answer(images: Path) -> Path:
    """Write the data set as PNG files in the workflow's layout; complete or absent."""
    from PIL import Image

    from augablate.io import staged_directory

    rng = np.random.default_rng(SEED)
    with staged_directory(images) as (staging, publish):
        for split, count in COUNTS.items():
            for label, name in enumerate(CLASSES):
                folder = staging / split / name
                folder.mkdir(parents=True)
                for index in range(count):
                    change = CHANGES[index % 2] if split == "validation" else "none"
                    pixels = render(rng, foot_right=bool(label), change=change)
                    Image.fromarray(pixels).save(folder / f"{name}-{index:04d}.png")
        publish(staging)
    return images
