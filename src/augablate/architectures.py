"""Models other than the reference CNN: a ``keras.applications`` architecture or a user's
``module:function``, named by ``model.architecture``.

The config side (:func:`check_architecture`) is standard library only, so the Snakefile can
refuse a bad model before any job runs without loading TensorFlow: the architectures Keras
ships and their minimum input sizes are listed here (a test compares the list with Keras), a
user's module is found and its function looked up in its source without running it. The
training side (:func:`build_architecture`) imports Keras and builds the uncompiled model; the
compilation, shared with the reference CNN, is in :mod:`augablate.model`.

Every model takes the pipeline's raw 0..255 pixels. A ``keras.applications`` model gets its
own family's ``preprocess_input`` as its first layer (the identity for the families that
rescale inside the model: EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3 with its default
``include_preprocessing``), no top (``include_top=False``), global pooling and a head sized
from the data: one sigmoid unit for two classes, a softmax over the classes otherwise. A
function is given ``input_shape`` and ``num_classes`` (and ``model.args``) and must return a
``keras.Model`` whose output is probabilities of that shape.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from augablate.protocol import ConfigError

#: ``model.architecture`` of the 2019 tutorial CNN (augablate.model), the default.
REFERENCE = "reference"

#: The architectures of ``keras.applications`` (Keras 3.15; tests/test_architectures.py checks
#: the list against the installed Keras).
APPLICATIONS = (
    *(f"ConvNeXt{size}" for size in ("Base", "Large", "Small", "Tiny", "XLarge")),
    "DenseNet121",
    "DenseNet169",
    "DenseNet201",
    *(f"EfficientNetB{index}" for index in range(8)),
    *(f"EfficientNetV2{size}" for size in ("B0", "B1", "B2", "B3", "L", "M", "S")),
    "InceptionResNetV2",
    "InceptionV3",
    "MobileNet",
    "MobileNetV2",
    "MobileNetV3Large",
    "MobileNetV3Small",
    "NASNetLarge",
    "NASNetMobile",
    "ResNet101",
    "ResNet101V2",
    "ResNet152",
    "ResNet152V2",
    "ResNet50",
    "ResNet50V2",
    "VGG16",
    "VGG19",
    "Xception",
)
#: Smallest square input Keras accepts for each architecture without its top: 32 but these.
MIN_IMAGE_SIZE = {"InceptionResNetV2": 75, "InceptionV3": 75, "Xception": 71}
#: Keyword arguments the workflow sets itself (from the data and ``model.weights``).
RESERVED_ARGS = ("include_top", "weights", "input_shape", "input_tensor", "classes")


def min_image_size(architecture: str) -> int:
    return MIN_IMAGE_SIZE.get(architecture, 32)


def is_function(architecture: str) -> bool:
    """Whether ``model.architecture`` names a ``module:function`` (or ``path/file.py:function``)."""
    return ":" in architecture


def check_architecture(model: Mapping, image_size: int, defaults: Mapping) -> None:
    """Raise ConfigError, naming the key, when ``model`` (the config's section, ``defaults``
    the schema's values of the reference CNN's keys) cannot give a model for ``image_size``
    pixels: an unknown architecture, a function that cannot be found, an image too small, a
    key that does not apply to the architecture."""
    architecture = model["architecture"]
    for key in ("filters", "dense_units"):
        if model[key] != defaults[key]:
            raise ConfigError(
                f"config key 'model.{key}' applies to the reference CNN only, not to "
                f"model.architecture {architecture!r}: remove it (or use model.args)"
            )
    if is_function(architecture):
        if model["weights"] is not None:
            raise ConfigError(
                f"config key 'model.weights' ({model['weights']!r}) applies to keras.applications "
                f"architectures only; the function {architecture!r} loads its own weights"
            )
        find_function(architecture)
        return
    if architecture not in APPLICATIONS:
        raise ConfigError(
            f"config key 'model.architecture' is {architecture!r}: not an architecture of "
            f"keras.applications; allowed: {REFERENCE!r} (the reference CNN), one of "
            f"{', '.join(APPLICATIONS)}, or 'module:function' (a function returning a keras.Model)"
        )
    if reserved := sorted(set(model["args"]) & set(RESERVED_ARGS)):
        raise ConfigError(
            f"config key 'model.args.{reserved[0]}' is set by the workflow (from the data and "
            f"model.weights); allowed in model.args: the other arguments of "
            f"keras.applications.{architecture}"
        )
    needed = min_image_size(architecture)
    if image_size < needed:
        raise ConfigError(
            f"config key 'data.image_size' is {image_size}, too small for model.architecture "
            f"{architecture} (keras.applications); allowed: at least {needed}"
        )
    weights = model["weights"]
    if weights not in (None, "imagenet") and not Path(weights).expanduser().is_file():
        raise ConfigError(
            f"config key 'model.weights' ({weights!r}): no such file {Path(weights).resolve()}; "
            "allowed: null (random initial weights), imagenet (from Keras' cache or download) "
            "or the path of a weights file without the top (relative to the working directory)"
        )


def split_function(architecture: str) -> tuple[str, str]:
    module, _, function = architecture.rpartition(":")
    return module, function


def find_function(architecture: str) -> None:
    """Check without running it that the module of ``module:function`` exists and defines the
    function at its top level (raise ConfigError naming ``model.architecture``)."""
    module, function = split_function(architecture)
    problem, source = None, None
    if not module or not function.isidentifier():
        problem = "write it as 'package.module:function' or 'path/to/file.py:function'"
    elif module.endswith(".py"):
        source = Path(module).expanduser()
        if not source.is_file():
            problem = f"no such file {source.resolve()} (relative to the working directory)"
    else:
        with _working_directory_on_path():
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError) as error:
                spec, problem = None, f"{type(error).__name__}: {error}"
        if spec is None:
            problem = (
                problem or f"no module {module!r} on the Python path or in the working directory"
            )
        elif spec.origin and spec.origin.endswith(".py"):
            source = Path(spec.origin)
    if problem is None and source is not None and function not in _top_level_names(source):
        problem = f"{source} defines no {function!r} at its top level"
    if problem:
        raise ConfigError(f"config key 'model.architecture' ({architecture!r}): {problem}")


def _top_level_names(source: Path) -> set[str]:
    names = set()
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


class _working_directory_on_path:
    """The working directory on ``sys.path`` for the duration (a module beside the study's
    config is found the same way by the config check and by the training job)."""

    def __enter__(self):
        self.added = os.getcwd() not in sys.path
        if self.added:
            sys.path.append(os.getcwd())

    def __exit__(self, *exc):
        if self.added and os.getcwd() in sys.path:
            sys.path.remove(os.getcwd())


def load_function(architecture: str):
    """The callable ``module:function`` names (raise ConfigError naming
    ``model.architecture`` when it cannot be imported)."""
    module_name, function = split_function(architecture)
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).expanduser()
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            with _working_directory_on_path():
                module = importlib.import_module(module_name)
        return getattr(module, function)
    except Exception as error:
        raise ConfigError(
            f"config key 'model.architecture' ({architecture!r}) cannot be imported: "
            f"{type(error).__name__}: {error}"
        ) from error


def build_architecture(
    architecture: str,
    image_size: int,
    num_classes: int,
    weights: str | None = None,
    args: Mapping | None = None,
    augmentation_layer=None,
):
    """The model ``model.architecture`` names for square RGB images of ``image_size`` and
    ``num_classes`` classes, taking 0..255 pixels; ``augmentation_layer`` (optional) first.
    Not compiled, unless a function returned a compiled model."""
    import keras

    shape = (image_size, image_size, 3)
    args = dict(args or {})
    if is_function(architecture):
        network = function_model(architecture, shape, num_classes, args)
        if augmentation_layer is None:
            return network
        inputs = keras.Input(shape=shape)
        wrapped = keras.Model(inputs, network(augmentation_layer(inputs)), name=network.name)
        if network.compiled:  # a compiled model keeps its optimizer and loss
            wrapped.compile(optimizer=network.optimizer, loss=network.loss)
        return wrapped
    inputs = keras.Input(shape=shape)
    images = augmentation_layer(inputs) if augmentation_layer is not None else inputs
    images = preprocessing_layer(architecture)(images)
    base = getattr(keras.applications, architecture)(
        include_top=False,
        weights=_weights_argument(weights),
        input_shape=shape,
        **{"pooling": "avg", **args},
    )
    features = base(images)
    binary = num_classes == 2
    outputs = keras.layers.Dense(
        1 if binary else num_classes, activation="sigmoid" if binary else "softmax"
    )(features)
    return keras.Model(inputs, outputs, name=architecture.lower())


def _weights_argument(weights: str | None):
    if weights in (None, "imagenet"):
        return weights
    return str(Path(weights).expanduser())


def preprocessing_layer(architecture: str):
    """The ``preprocess_input`` of the family of ``keras.applications.<architecture>`` (its
    module: ``keras.applications.mobilenet_v3`` for MobileNetV3Small) as a layer."""
    import keras

    family = getattr(keras.applications, architecture).__module__.rsplit(".", 1)[-1]
    function = getattr(keras.applications, family).preprocess_input
    return keras.layers.Lambda(function, name=f"{family}_preprocess_input")


def function_model(architecture: str, shape: tuple, num_classes: int, args: Mapping):
    """Call the user's function; check that it returned a ``keras.Model`` for ``shape`` whose
    output fits ``num_classes`` (raise ConfigError naming ``model.architecture``)."""
    import keras

    function = load_function(architecture)
    model = function(input_shape=shape, num_classes=num_classes, **args)
    problem = None
    if not isinstance(model, keras.Model):
        problem = f"returned {type(model).__name__}, not a keras.Model"
    else:
        units = model.output_shape[-1] if len(model.output_shape) == 2 else None
        allowed = {1, num_classes} if num_classes == 2 else {num_classes}
        if units not in allowed:
            problem = (
                f"returned a model with output shape {model.output_shape}; the data have "
                f"{num_classes} classes: allowed (None, {num_classes}) softmax"
                + (" or (None, 1) sigmoid" if num_classes == 2 else "")
            )
        elif getattr(getattr(model.layers[-1], "activation", None), "__name__", "") == "linear":
            problem = (
                "returned a model whose last layer is linear (logits); the study scores "
                "probabilities: end with a sigmoid (one unit) or softmax"
            )
    if problem:
        raise ConfigError(f"config key 'model.architecture' ({architecture!r}) {problem}")
    return model
