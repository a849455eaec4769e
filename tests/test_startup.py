"""A training process does not pay for what it never uses: the packages Keras imports at
start-up only for features a training does not touch are marked absent before TensorFlow
loads (workflow/scripts/train.py, through augablate.startup, which imports no TensorFlow), and
a model still builds and trains."""

import json
import subprocess
import sys

from augablate import startup

CHILD = """
import json, sys
from augablate.startup import UNUSED_BY_TRAINING, prepare_training_process

skipped = prepare_training_process()
assert "tensorflow" not in sys.modules  # augablate.startup imports no TensorFlow
from augablate.train import configure_tensorflow  # imports TensorFlow, after the skip

tf = configure_tensorflow(1, 1, True)
import keras
import numpy as np

model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3),
                          keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3), loss="binary_crossentropy")
loss = model.fit(np.zeros((4, 8, 8, 3)), np.ones(4), epochs=1, verbose=0).history["loss"][0]
print(json.dumps({"skipped": skipped, "absent": [n for n in UNUSED_BY_TRAINING
                  if sys.modules.get(n, 0) is None], "loss": loss}))
"""


def test_a_training_process_skips_what_keras_would_import_for_nothing():
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["skipped"] == found["absent"] == list(startup.UNUSED_BY_TRAINING)
    assert found["loss"] > 0


def test_packages_already_imported_are_left_alone(monkeypatch):
    name = "augablate_test_never_imported"
    monkeypatch.setattr(startup, "UNUSED_BY_TRAINING", ("json", name))
    try:
        assert startup.skip_unused_imports() == [name]
        assert sys.modules[name] is None and sys.modules["json"] is json
    finally:
        sys.modules.pop(name, None)


MEMORY_GROWTH = """
import json
import tensorflow as tf
from augablate.train import configure_tensorflow

grown = []
tf.config.list_physical_devices = lambda kind=None: ["GPU:0", "GPU:1"] if kind == "GPU" else []
tf.config.experimental.set_memory_growth = lambda device, on: grown.append([device, on])
configure_tensorflow(1, 1, True)
print(json.dumps(grown))
"""


def test_every_visible_gpu_grows_its_memory_so_trainings_can_share_it():
    """resources.trainings_per_gpu: before any op, each GPU TensorFlow sees is set to grow its
    memory as needed (no GPU here: TensorFlow's device list is replaced by two fake GPUs)."""
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_GROWTH], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [["GPU:0", True], ["GPU:1", True]]
