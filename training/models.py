"""The emotion networks: the prototype's two models, kept as it defined them, and ours."""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from vcam.emotions import EMOTIONS
from vcam.preprocess import FACE_SIZE

INPUT_SHAPE = (FACE_SIZE, FACE_SIZE, 1)


def seed_cnn() -> keras.Model:
    """The prototype's custom CNN (2,345,607 parameters), layer for layer."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Dropout(0.25),
            layers.Conv2D(128, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(128, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(len(EMOTIONS), activation="softmax", dtype="float32"),
        ],
        name="seed_cnn",
    )


def seed_vgg16() -> keras.Model:
    """The prototype's VGG16-style net: VGG16's 13 convolutions in five blocks on 48×48×1."""
    model = keras.Sequential([keras.Input(INPUT_SHAPE)], name="seed_vgg16")
    for filters, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(convs):
            model.add(layers.Conv2D(filters, (3, 3), activation="relu", padding="same"))
        model.add(layers.MaxPooling2D((2, 2), strides=(2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(4096, activation="relu"))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(4096, activation="relu"))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(len(EMOTIONS), activation="softmax", dtype="float32"))
    return model


def vcam_net(widths: tuple[int, ...] = (32, 64, 128, 256), dropout: float = 0.4,
             convs: tuple[int, ...] = (1, 2, 2, 2), name: str = "vcam_net") -> keras.Model:
    """Ours: a VGG-style net with batch normalisation sized for 48×48 faces.

    Two 3×3 convolutions per stage (one in the first, where maps are largest and cheap
    features suffice), max-pooling between stages, global average pooling instead of a big
    dense head: few parameters, fast on a CPU, and it generalises better on 28k faces.
    `convs` gives the 3×3 convolutions of each stage.
    """
    inputs = keras.Input(INPUT_SHAPE)
    x = inputs
    for stage, (filters, count) in enumerate(zip(widths, convs, strict=True)):
        for _ in range(count):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        if stage < len(widths) - 1:
            x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(len(EMOTIONS), activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def vcam_wide() -> keras.Model:
    """vcam_net twice as wide, two convolutions in every stage (4.7 M parameters): for a GPU to
    train; 0.60 ms a face with LiteRT int8 here, inside the live budget of 1.5 ms."""
    return vcam_net((64, 128, 256, 512), convs=(2, 2, 2, 2), name="vcam_wide")


def vcam_deep() -> keras.Model:
    """vcam_net twice as wide, with three convolutions in its last two stages (7.6 M parameters):
    the shipped model, 0.64 ms a face with LiteRT int8 here."""
    return vcam_net((64, 128, 256, 512), convs=(1, 2, 3, 3), name="vcam_deep")


PRECISIONS = ("float32", "mixed_bfloat16")
"""Training precisions. mixed_bfloat16 computes in bfloat16 and keeps float32 weights; the
output layer stays float32 in every net, so the softmax and the loss are computed in float32."""


def float32_copy(model: keras.Model) -> keras.Model:
    """`model` itself if it computes in float32, else the same net and weights computing in
    float32 (a model trained in mixed precision, for export and evaluation)."""
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model

    def float32(node):
        if isinstance(node, dict):
            if node.get("class_name") == "DTypePolicy":
                return {**node, "config": {**node["config"], "name": "float32"}}
            return {key: float32(value) for key, value in node.items()}
        if isinstance(node, list):
            return [float32(value) for value in node]
        return node

    copy = type(model).from_config(float32(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def build(name: str, precision: str = "float32") -> keras.Model:
    """A new `MODELS[name]` net computing in `precision` (one of PRECISIONS); the global
    policy is left as it was."""
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        return MODELS[name]()
    finally:
        keras.mixed_precision.set_global_policy(before)


def load(path) -> keras.Model:
    """The .keras model at `path`, without optimizer, computing in float32."""
    return float32_copy(keras.models.load_model(path, compile=False))


MODELS: dict[str, Callable[[], keras.Model]] = {
    "vcam_net": vcam_net,
    "vcam_wide": vcam_wide,
    "vcam_deep": vcam_deep,
    "seed_cnn": seed_cnn,
    "seed_vgg16": seed_vgg16,
}
