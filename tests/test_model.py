import pytest

from augablate.model import build_model, check_image_size, min_image_size
from augablate.protocol import TrainSettings


def test_minimum_sizes():
    assert [min_image_size(n) for n in range(1, 5)] == [4, 10, 22, 46]


def test_reference_cnn_matches_the_published_architecture():
    model = build_model(150, 2)
    # The reference notebook's model.summary(): 3,453,121 trainable parameters.
    assert model.count_params() == 3_453_121
    assert model.output_shape == (None, 1)
    assert model.loss == "binary_crossentropy"
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-4)
    conv = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [layer.filters for layer in conv] == [32, 64, 128, 128]


def test_softmax_head_for_more_than_two_classes():
    model = build_model(32, 10, TrainSettings(filters=[8, 16, 16], dense_units=16))
    assert model.output_shape == (None, 10)
    assert model.layers[-1].activation.__name__ == "softmax"


def test_too_small_images_fail_naming_both_keys():
    with pytest.raises(ValueError, match=r"'data.image_size' is 40, .*model.filters.*at least 46"):
        check_image_size(40, [32, 64, 128, 128])


def test_checkpoint_weights_round_trip_and_the_earlier_keras_format_still_loads(tmp_path):
    import numpy as np

    from augablate.checkpoint import _state_variables, _write_npz, load_weights

    settings = TrainSettings(filters=[4, 8], dense_units=8)
    saved = build_model(24, 3, settings)
    variables = _state_variables(saved)
    for index, (_, variable) in enumerate(variables):  # weights and optimizer state alike
        variable.assign(np.full(variable.shape, index + 0.5, dtype=variable.dtype))
    _write_npz(tmp_path / "w.weights.npz", {name: v.numpy() for name, v in variables})
    saved.save_weights(tmp_path / "w.weights.h5")
    for name in ("w.weights.npz", "w.weights.h5"):
        loaded = build_model(24, 3, settings)
        load_weights(loaded, tmp_path / name)
        for (_, want), (_, got) in zip(variables, _state_variables(loaded), strict=True):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    other = build_model(24, 3, TrainSettings(filters=[4, 4], dense_units=8))
    before = [v.numpy() for _, v in _state_variables(other)]
    with pytest.raises(ValueError, match="w.weights.npz"):
        load_weights(other, tmp_path / "w.weights.npz")
    assert all(  # nothing assigned
        np.array_equal(b, v.numpy())
        for b, (_, v) in zip(before, _state_variables(other), strict=True)
    )


def test_scoring_equals_keras_predict_in_chunks_of_any_size_with_one_trace():
    import numpy as np

    from augablate.evaluate import _forward, evaluation_batch, predict_probabilities

    model = build_model(24, 3, TrainSettings(filters=[4, 8], dense_units=8))
    images = np.random.default_rng(0).integers(0, 256, (600, 24, 24, 3), dtype=np.uint8)
    assert evaluation_batch(24) == 512  # 600 images: a chunk of 512 and one of 88
    expected = model.predict(images.astype(np.float32), verbose=0)
    np.testing.assert_allclose(predict_probabilities(model, images), expected, atol=1e-6)
    subset = np.array([599, 3, 17])
    np.testing.assert_allclose(
        predict_probabilities(model, images, subset), expected[subset], atol=1e-6
    )
    assert _forward(model, images.shape[1:]).experimental_get_tracing_count() == 1
