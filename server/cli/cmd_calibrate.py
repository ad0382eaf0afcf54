"""``facecast calibrate IMAGE -o AVATAR [--preview PNG] [--json] [--support IMAGE ...]``.

Photo -> avatar file. ``--support`` adds photos of the same person: the identity is then
fitted over all of them (better identity/expression separation); the avatar's expression,
pose and texture still come from IMAGE.

Exit codes: 0 ok; 1 unexpected failure; 2 bad input (unreadable image, too large, no face).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="fit the 3D face model to a photo and write an avatar file",
        description="Detect the largest face, fit the ICT face model (identity, expression, "
        "head pose, scaled-orthographic camera), unwrap its texture and save the avatar.",
    )
    parser.add_argument("image", help="photo (JPEG, PNG, WebP, ...)")
    parser.add_argument("-o", "--output", required=True, help="avatar file to write (.npz)")
    parser.add_argument(
        "--preview", default=None, help="write the fitted mesh over the photo (PNG)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the fit report as one JSON object"
    )
    parser.add_argument("--max-side", type=int, default=2048, help="downscale larger photos (px)")
    parser.add_argument(
        "--texture-size", type=int, default=512, help="texture side in texels (default 512)"
    )
    parser.add_argument(
        "--support",
        nargs="+",
        default=[],
        metavar="IMAGE",
        help="more photos of the same person: the identity is fitted over all of them",
    )
    parser.set_defaults(func=run)


def _fail(args: argparse.Namespace, code: int, kind: str, message: str) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": kind, "message": message}))
    print(f"facecast calibrate: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    """Calibrate; an unexpected internal error is reported (exit 1), never a traceback."""
    try:
        return _run(args)
    except Exception as error:  # the last line of defence: report, do not crash
        logger.debug("calibrate failed", exc_info=True)
        return _fail(args, 1, "internal_error", f"calibration failed unexpectedly: {error!r}")


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from calibration import (
        CalibrationConfig,
        CalibrationError,
        Calibrator,
        ImageError,
        NoFaceError,
        TextureConfig,
        load_image,
    )
    from calibration.preview import avatar_preview
    from engines.avatar import save_avatar
    from engines.face_model import FaceModelError

    try:
        config = CalibrationConfig(
            max_side=args.max_side, texture=TextureConfig(size=args.texture_size)
        )
    except ValueError as error:
        return _fail(args, 2, "bad_argument", str(error))
    try:
        image = load_image(args.image, max_side=args.max_side)
        support = [load_image(path, max_side=args.max_side) for path in args.support]
    except ImageError as error:
        return _fail(args, 2, type(error).__name__, str(error))
    load_started = time.perf_counter()
    try:
        calibrator = Calibrator(config)
    except FaceModelError as error:
        return _fail(args, 1, type(error).__name__, f"cannot load the face model: {error}")
    model_seconds = time.perf_counter() - load_started
    try:
        with calibrator:
            result = calibrator.calibrate(image, support_frames=support)
    except NoFaceError as error:
        return _fail(args, 2, "no_face", f"no face found in {args.image}: {error}")
    except CalibrationError as error:
        return _fail(args, 1, type(error).__name__, str(error))
    avatar = result.avatar
    try:
        save_avatar(avatar, args.output)
    except OSError as error:
        return _fail(args, 1, "write_failed", f"cannot write {args.output}: {error}")
    report: dict[str, Any] = {"ok": True, **result.report, "output": str(args.output)}
    report["model_load_seconds"] = round(model_seconds, 4)
    if args.preview:
        import cv2

        picture = avatar_preview(avatar, calibrator.model)
        Path(args.preview).parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(args.preview), picture[..., ::-1]):
            return _fail(args, 1, "write_failed", f"cannot write the preview {args.preview}")
        report["preview"] = str(args.preview)
    report["total_seconds"] = round(time.perf_counter() - started, 4)
    if args.json:
        print(json.dumps(report))
    else:
        top = ", ".join(f"{k} {v:.2f}" for k, v in report["top_expressions"].items())
        print(
            f"wrote {args.output}: NME {report['landmark_nme']:.4f}, max "
            f"{report['landmark_max_px']:.1f} px, {report['faces_found']} face(s), "
            f"{report['seconds'] * 1e3:.0f} ms; expression: {top or 'neutral'}"
        )
    return 0
