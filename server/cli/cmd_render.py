"""``facecast render IMAGE_OR_AVATAR -o OUT.png [--set name=v,...] [--pose yaw=10,...]``
and ``facecast render IMAGE_OR_AVATAR --sheet OUT.png`` (all 53 shapes at full weight).

IMAGE_OR_AVATAR is an avatar file written by ``facecast calibrate`` (``.npz``) or a photo,
which is calibrated first. ``--set`` values are absolute coefficients replacing the source's
own fitted ones (``--from-neutral`` starts from all zeros instead); ``--pose`` angles are
degrees added to the fitted head pose.

Exit codes: 0 ok; 1 unexpected failure; 2 bad input (unknown shape names, unreadable file,
no face).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

POSE_NAMES = ("pitch", "yaw", "roll")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render an avatar (or a photo) with a new expression and head pose",
        description="Re-pose a calibrated face with expression coefficients and a head-pose "
        "offset, or draw a contact sheet of all 53 expression shapes.",
    )
    parser.add_argument("source", help="avatar file (.npz from `facecast calibrate`) or a photo")
    parser.add_argument("-o", "--output", default=None, help="PNG/JPEG to write")
    parser.add_argument(
        "--set",
        dest="assignments",
        default="",
        help="expression coefficients, e.g. jawOpen=0.4,mouthSmile_L=0.8",
    )
    parser.add_argument(
        "--from-neutral",
        action="store_true",
        help="start from all-zero coefficients instead of the source's own expression",
    )
    parser.add_argument(
        "--pose", default="", help="head-pose offset in degrees, e.g. yaw=10,pitch=-5,roll=0"
    )
    parser.add_argument("--size", type=int, default=512, help="output side in pixels")
    parser.add_argument(
        "--sheet", default=None, metavar="OUT", help="write a labelled sheet of all 53 shapes"
    )
    parser.add_argument(
        "--no-shading", action="store_true", help="disable the SH expression-ratio shading"
    )
    parser.set_defaults(func=run)


def _parse_pairs(text: str, what: str) -> dict[str, float]:
    pairs: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{what}: expected name=value, got {item!r}")
        try:
            pairs[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not a number (in {item!r})") from None
    return pairs


def _load_source(path: str, model: Any) -> Any:
    from engines.avatar import AvatarFormatError, load_avatar

    if path.endswith(".npz"):
        try:
            return load_avatar(path)
        except AvatarFormatError:
            raise
    import calibration

    image = calibration.load_image(path)
    return calibration.calibrate(image, model=model).avatar


def _sheet(renderer: Any, names: tuple[str, ...], size: int) -> Any:
    import cv2
    import numpy as np

    tile = 160
    columns = 9
    count = len(names) + 1
    rows = (count + columns - 1) // columns
    sheet = np.full((rows * (tile + 18), columns * tile, 3), 255, np.uint8)
    zero_pose = np.zeros(3, np.float32)
    for index in range(count):
        coeffs = np.zeros(len(names), np.float32)
        label = "neutral"
        if index:
            coeffs[index - 1] = 1.0
            label = names[index - 1]
        frame = renderer.render(coeffs, zero_pose)
        small = cv2.resize(frame, (tile, tile), interpolation=cv2.INTER_AREA)
        r, c = divmod(index, columns)
        y, x = r * (tile + 18), c * tile
        sheet[y + 18 : y + 18 + tile, x : x + tile] = small
        cv2.putText(
            sheet, label, (x + 3, y + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
            cv2.LINE_AA,
        )  # fmt: skip
    return sheet


def run(args: argparse.Namespace) -> int:
    """Render; bad input -> exit 2 with a message, unexpected failure -> exit 1."""
    if not args.output and not args.sheet:
        print("facecast render: give -o OUT.png and/or --sheet OUT.png", file=sys.stderr)
        return 2
    try:
        assignments = _parse_pairs(args.assignments, "--set")
        pose_degrees = _parse_pairs(args.pose, "--pose")
    except ValueError as error:
        print(f"facecast render: {error}", file=sys.stderr)
        return 2
    unknown_pose = sorted(set(pose_degrees) - set(POSE_NAMES))
    if unknown_pose:
        print(
            f"facecast render: unknown pose angles {unknown_pose}; valid: {', '.join(POSE_NAMES)}",
            file=sys.stderr,
        )
        return 2
    if not Path(args.source).is_file():
        print(f"facecast render: {args.source} does not exist", file=sys.stderr)
        return 2

    import cv2
    import numpy as np

    from engines.avatar import AvatarFormatError
    from engines.face_model.ict import load_ict
    from engines.render import AvatarRenderer, RenderConfig, RenderError

    model = load_ict()
    unknown = sorted(set(assignments) - set(model.expression_names))
    if unknown:
        print(
            f"facecast render: unknown expression shapes {unknown}; valid: "
            f"{', '.join(model.expression_names)}",
            file=sys.stderr,
        )
        return 2
    try:
        config = RenderConfig(size=args.size, shading_transfer=not args.no_shading)
    except ValueError as error:
        print(f"facecast render: {error}", file=sys.stderr)
        return 2
    try:
        import calibration

        avatar = _load_source(args.source, model)
    except (AvatarFormatError, calibration.CalibrationError) as error:
        print(f"facecast render: {error}", file=sys.stderr)
        return 2
    try:
        renderer = AvatarRenderer(avatar, model, config)
        written = []
        if args.output:
            coeffs = np.zeros(model.num_expressions, np.float32)
            if not args.from_neutral:
                coeffs[:] = avatar.expression
            for name, value in assignments.items():
                coeffs[model.expression_index(name)] = value
            pose = np.radians([pose_degrees.get(n, 0.0) for n in POSE_NAMES]).astype(np.float32)
            frame = renderer.render(coeffs, pose)
            if not cv2.imwrite(args.output, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
                print(f"facecast render: cannot write {args.output}", file=sys.stderr)
                return 2
            written.append(args.output)
        if args.sheet:
            sheet = _sheet(renderer, tuple(model.expression_names), args.size)
            if not cv2.imwrite(args.sheet, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
                print(f"facecast render: cannot write {args.sheet}", file=sys.stderr)
                return 2
            written.append(args.sheet)
    except RenderError as error:
        print(f"facecast render: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # report, never a traceback
        logger.debug("render failed", exc_info=True)
        print(f"facecast render: internal error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0
