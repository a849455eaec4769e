"""Models given to the workflow as ``model.architecture: module:function`` in the tests (a user
would write such a module of their own): each takes the input shape and the number of classes,
and the config's ``model.args`` as keyword arguments."""

import keras
from keras import layers


def small_cnn(input_shape, num_classes, width=8):
    """An uncompiled CNN: the workflow compiles it with the config's optimizer settings."""
    binary = num_classes == 2
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(width, 3, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(
                1 if binary else num_classes, activation="sigmoid" if binary else "softmax"
            ),
        ],
        name="small_cnn",
    )


def compiled_cnn(input_shape, num_classes):
    """The same model compiled with Adam: the workflow keeps its optimizer and loss."""
    model = small_cnn(input_shape, num_classes)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    return model


def not_a_model(input_shape, num_classes):
    return {"input_shape": input_shape}


def logits_cnn(input_shape, num_classes):
    """Ends with a linear layer: the study scores probabilities, so it is refused."""
    return keras.Sequential(
        [keras.Input(shape=input_shape), layers.Flatten(), layers.Dense(num_classes)]
    )


def three_outputs(input_shape, num_classes):
    """Three softmax units whatever the data: refused when the data have another number."""
    return keras.Sequential(
        [keras.Input(shape=input_shape), layers.Flatten(), layers.Dense(3, activation="softmax")]
    )
