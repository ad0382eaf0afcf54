"""``facecast render IMAGE_OR_AVATAR -o OUT.png [--set ...] [--pose ...]`` and ``--sheet``.

Renders the person of a photo (calibrated on the fly) or of an avatar file with chosen
expression coefficients and a head-pose offset, or a labelled contact sheet of all 53
expression shapes at full weight.

Exit codes: 0 ok; 1 failure (renderer unavailable, write error); 2 bad input (unknown shape
name, bad value, unreadable image, no face).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

POSE_NAMES = ("pitch", "yaw", "roll")


class RenderCliError(Exception):
    """A user-facing error with an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render a person's photo with new expression coefficients and head pose",
        description="Re-render the face of a photo or avatar file with the given ICT expression "
        "coefficients (ARKit names) and a head-rotation offset, or a contact sheet of all 53 "
        "expression shapes.",
    )
    parser.add_argument("source", help="photo (calibrated on the fly) or avatar file (.npz)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="PNG to write")
    parser.add_argument(
        "--set",
        default="",
        metavar="NAME=VALUE,...",
        help="expression coefficients, e.g. jawOpen=0.4,mouthSmile_L=0.8 (others 0)",
    )
    parser.add_argument(
        "--pose",
        default="",
        metavar="yaw=10,pitch=-5,roll=0",
        help="head-rotation offset in degrees from the photo's pose",
    )
    parser.add_argument(
        "--keep-source",
        action="store_true",
        help="start from the photo's own fitted expression instead of neutral (zeros)",
    )
    parser.add_argument("--size", type=int, default=512, help="output side in pixels (512)")
    parser.add_argument(
        "--no-shading-transfer",
        action="store_true",
        help="warp only: keep the photo's shading (no SH expression-ratio re-shading)",
    )
    parser.add_argument(
        "--sheet", type=Path, default=None, help="write a contact sheet of all 53 shapes (PNG)"
    )
    parser.set_defaults(func=run)


def parse_assignments(text: str, valid: tuple[str, ...], what: str) -> dict[str, float]:
    """``"a=1,b=-2"`` -> ``{"a": 1.0, "b": -2.0}``; unknown names list the valid ones."""
    values: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep:
            raise RenderCliError(f"{what}: expected NAME=VALUE, got {item!r}", 2)
        if name not in valid:
            raise RenderCliError(f"{what}: unknown name {name!r}; valid: {', '.join(valid)}", 2)
        try:
            value = float(raw)
        except ValueError:
            raise RenderCliError(f"{what}: {name} needs a number, got {raw!r}", 2) from None
        if not math.isfinite(value):
            raise RenderCliError(f"{what}: {name} must be finite", 2)
        values[name] = value
    return values


def _load_avatar(source: str) -> Any:
    path = Path(source)
    if not path.is_file():
        raise RenderCliError(f"no such file: {source}", 2)
    if path.suffix.lower() == ".npz":
        from engines.avatar import AvatarError, load_avatar

        try:
            return load_avatar(path)
        except (AvatarError, OSError, ValueError) as error:
            raise RenderCliError(f"cannot read avatar {source}: {error}", 2) from error
    from calibration import CalibrationError, calibrate, load_image

    try:
        return calibrate(load_image(path)).avatar
    except CalibrationError as error:
        raise RenderCliError(f"{source}: {error}", 2) from error


def _write_png(path: Path, image: NDArray[np.uint8]) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise RenderCliError(f"cannot write {path}", 1)


def contact_sheet(renderer: Any, names: tuple[str, ...], columns: int = 8) -> NDArray[np.uint8]:
    """(rows·tile, columns·tile, 3) sheet: the source pose, every shape at weight 1 from neutral
    (mouthClose, which only acts against an open jaw, with jawOpen 1 too)."""
    import cv2

    tile = 192
    tiles = []
    zero_pose = np.zeros(3, np.float32)
    entries = [("neutral", np.zeros(len(names), np.float32))]
    for index, name in enumerate(names):
        coeffs = np.zeros(len(names), np.float32)
        coeffs[index] = 1.0
        if name == "mouthClose" and "jawOpen" in names:
            coeffs[names.index("jawOpen")] = 1.0
            name = "mouthClose+jawOpen"
        entries.append((name, coeffs))
    for label, coeffs in entries:
        frame = cv2.resize(
            renderer.render(coeffs, zero_pose), (tile, tile), interpolation=cv2.INTER_AREA
        )
        cv2.rectangle(frame, (0, tile - 22), (tile, tile), (0, 0, 0), -1)
        cv2.putText(
            frame,
            label,
            (4, tile - 6),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        tiles.append(frame)
    while len(tiles) % columns:
        tiles.append(np.zeros((tile, tile, 3), np.uint8))
    rows = [np.concatenate(tiles[i : i + columns], 1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, 0)


def _run(args: argparse.Namespace) -> int:
    if args.output is None and args.sheet is None:
        raise RenderCliError("nothing to write: give -o OUT.png and/or --sheet SHEET.png", 2)
    if not 64 <= args.size <= 2048:
        raise RenderCliError(f"--size must be in [64, 2048], got {args.size}", 2)
    from engines.face_model.ict import EXPRESSION_NAMES

    expression_values = parse_assignments(args.set, EXPRESSION_NAMES, "--set")
    pose_values = parse_assignments(args.pose, POSE_NAMES, "--pose")
    for name, value in expression_values.items():
        if not -0.5 <= value <= 1.5:
            raise RenderCliError(f"--set: {name}={value} is outside [-0.5, 1.5]", 2)
    for name, value in pose_values.items():
        if abs(value) > 60:
            raise RenderCliError(f"--pose: {name}={value} degrees is outside [-60, 60]", 2)
    avatar = _load_avatar(args.source)
    from engines.face_model.ict import load_ict
    from engines.render import AvatarRenderer, RenderConfig, RenderError

    model = load_ict(progress=False)
    try:
        config = RenderConfig(size=args.size, shading_transfer=not args.no_shading_transfer)
        renderer = AvatarRenderer(avatar, model, config)
    except RenderError as error:
        raise RenderCliError(f"cannot render {args.source}: {error}", 2) from error
    names = tuple(model.expression_names)
    if args.output is not None:
        coeffs = (
            np.asarray(avatar.expression, np.float32).copy()
            if args.keep_source
            else np.zeros(len(names), np.float32)
        )
        for name, value in expression_values.items():
            coeffs[names.index(name)] = value
        pose = np.radians([pose_values.get(n, 0.0) for n in POSE_NAMES]).astype(np.float32)
        _write_png(args.output, renderer.render(coeffs, pose).copy())
        logger.info("wrote %s", args.output)
    if args.sheet is not None:
        sheet_renderer = AvatarRenderer(avatar, model, RenderConfig(size=256))
        _write_png(args.sheet, contact_sheet(sheet_renderer, names))
        logger.info("wrote %s", args.sheet)
    return 0


def run(args: argparse.Namespace) -> int:
    """Render; bad input exits 2 with a message, never a traceback."""
    try:
        return _run(args)
    except RenderCliError as error:
        print(f"facecast render: {error}", file=sys.stderr)
        return error.code
    except OSError as error:
        print(f"facecast render: {error}", file=sys.stderr)
        return 1
