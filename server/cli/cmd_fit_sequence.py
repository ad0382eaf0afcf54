"""``facecast fit-sequence VIDEO_OR_FRAMES_DIR -o seq.npz``: fit a recording frame by frame.

One identity for the whole sequence, 53 expression coefficients and the head pose per frame,
smoothed in time (``calibration.sequence``): the head pose is smoothed over ``--pose-smooth``
seconds before the expressions are refitted at it, so that a brow raise is not read as a nod
(lower it for recordings with fast head motion; 0 keeps every frame's own pose). The ``.npz``
holds ``expressions`` (N, 53), ``rotations`` (N, 3), ``identity``, the unsmoothed fits,
which frames had a face and each frame's landmark error; ``--json`` prints a summary.

Exit codes: 0 ok; 2 bad input (no such file, not a video, no face in any frame, bad
options); 1 failure.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fit-sequence", help="fit every frame of a video or image folder (one identity)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )  # fmt: skip
    parser.add_argument("source", help="a video file or a folder of frames (sorted by name)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .npz")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate (default: the video's; a folder: 25)")  # fmt: skip
    parser.add_argument("--smooth", type=float, default=1.0,
                        help="temporal smoothing σ in frames (0 = none)")  # fmt: skip
    parser.add_argument(
        "--pose-smooth", type=float, default=0.5,
        help="head-pose smoothing σ in seconds (0 = every frame's own pose)",
    )  # fmt: skip
    parser.add_argument("--identity-frames", type=int, default=8,
                        help="frames the shared identity is fitted on")  # fmt: skip
    parser.add_argument("--max-frames", type=int, default=3000)
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calibration import CalibrationError, Calibrator
    from calibration.sequence import SequenceFitConfig, fit_sequence, read_frames

    if args.output.suffix.lower() != ".npz":
        logger.error("-o must end in .npz (got %s)", args.output.name)
        return 2
    try:
        config = SequenceFitConfig(
            identity_frames=args.identity_frames, smoothing_frames=args.smooth,
            max_frames=args.max_frames, pose_smoothing_s=args.pose_smooth,
            pose_rounds=3 if args.pose_smooth > 0 else 0,
        )  # fmt: skip
        frames, fps, _ = read_frames(args.source, fps=args.fps, max_frames=args.max_frames)
        with Calibrator() as calibrator:
            fit = fit_sequence(frames, calibrator, fps, config)
    except (CalibrationError, ValueError) as error:
        logger.error("%s", error)
        return 2
    try:
        fit.save(args.output)
    except OSError as error:
        logger.error("cannot write %s: %s", args.output, error)
        return 1
    summary = {"output": str(args.output), "fps": fit.fps, **fit.meta}
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        logger.info("%d frames (%d with a face) -> %s", fit.num_frames,
                    int(fit.found.sum()), args.output)  # fmt: skip
    return 0
