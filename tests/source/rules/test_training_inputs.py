"""NAN303 missing-input-normalization: decoded uint8 images converted to float and fed to a model unscaled."""

from __future__ import annotations

import textwrap

import pytest

from tests.helpers import codes, lint

RAW = (
    "raw 0-255 image converted to float and fed to the model without scaling: large inputs saturate activations "
    "and overflow in half precision; divide by 255 or normalise with the dataset's mean and std"
)


def test_opencv_image_rebound_in_place_then_converted():
    source = """\
        import cv2
        import torch

        model = torch.load("classifier.pt")
        img = cv2.imread("cat.jpg")
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, (224, 224))
        x = torch.from_numpy(img.transpose(2, 0, 1)).float().unsqueeze(0)
        logits = model(x)
        """
    assert lint(source, "NAN303") == [("NAN303", 8, 5, RAW)]


def test_decoders_and_conversions_of_every_framework():
    source = """\
        import imageio.v3 as iio
        import numpy as np
        import onnxruntime as ort
        import tensorflow as tf
        import torchvision
        from PIL import Image
        from skimage import io
        from tensorflow import keras

        def pil(model, path):
            img = Image.open(path).convert("RGB").resize((224, 224))
            x = np.array(img, dtype=np.float32)
            return model.predict(x[None])

        def tensorflow(model, path):
            img = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
            img = tf.cast(img, tf.float32)
            return model(img[None])

        def torch_io(net, path):
            x = torchvision.io.read_image(path).float()
            return net(x.unsqueeze(0))

        def keras_utils(model, path):
            x = keras.utils.img_to_array(keras.utils.load_img(path, target_size=(224, 224)))
            return model.predict(np.expand_dims(x, 0))

        def resized(detector, data):
            img = tf.image.resize(tf.image.decode_png(data), (320, 320))
            return detector(img[tf.newaxis])

        def onnx(path):
            session = ort.InferenceSession("model.onnx")
            x = iio.imread(path).astype("float32")
            return session.run(None, {"input": x[None]})

        def scikit(model, paths, labels):
            x = np.stack([io.imread(p) for p in paths]).astype(np.float32)
            model.fit(x, labels)
        """
    assert [(line, column) for _, line, column, _ in lint(source, "NAN303")] == [
        (12, 9),
        (17, 11),
        (21, 9),
        (25, 9),
        (29, 11),
        (34, 9),
        (38, 9),
    ]


@pytest.mark.parametrize(
    "scaling",
    [
        "x = x / 255.0",
        "x = x * (1.0 / 255)",
        "x = x / 127.5 - 1.0",
        "x = (x - MEAN) / STD",
        "transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])",
        "x = preprocess_input(x)",
        "x = keras.applications.resnet50.preprocess_input(x)",
        "scale = keras.layers.Rescaling(1.0 / 255)",
    ],
)
def test_scaling_anywhere_in_the_module_silences_it(scaling):
    source = (
        textwrap.dedent("""\
        import cv2
        import numpy as np
        from tensorflow import keras
        from torchvision import transforms
        from keras.applications.resnet50 import preprocess_input

        img = cv2.imread("cat.jpg")
        x = img.astype(np.float32)
        """)
        + scaling
        + "\npreds = model.predict(x[None])\n"
    )
    assert codes(source, "NAN303") == []
    assert codes(source.replace(scaling, ""), "NAN303") == ["NAN303"]


def test_look_alikes_are_clean():
    source = """\
        import cv2
        import matplotlib.pyplot as plt
        import numpy as np
        import torch

        img = cv2.imread("cat.jpg")
        x = img.astype(np.float32)
        plt.imshow(x)                           # not a model
        cv2.imwrite("out.png", x)
        y = preprocess(img.astype(np.float32))  # an unknown function may scale
        out = model(y)
        raw = model(torch.from_numpy(img))      # uint8 into the model: no float conversion here
        mask = cv2.imread("mask.png")
        m = torch.from_numpy(mask).float()
        weights = loss_weights(m)
        """
    assert codes(source, "NAN303") == []
