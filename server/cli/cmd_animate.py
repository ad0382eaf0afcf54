"""``facecast animate SOURCE "INSTRUCTION" -o OUT.mp4``: an instruction as a rendered video.

SOURCE is a photo (calibrated on the fly), a saved avatar (``.npz``), or ``none`` (the
generic ICT face, only with ``--coeffs``: no rendering). The instruction is planned (the
learned I2FET planner when its checkpoint exists, else the lexicon planner), turned into a
timeline (onset / apex / offset, neutral midpoints, holds; blinks and idle head motion),
and rendered frame by frame. Outputs:

- ``OUT.mp4`` (H.264 or MPEG-4, yuv420p) and/or PNG frames in ``--frames-dir``;
- ``--coeffs FILE.json``: per-frame expression coefficients and head pose (no renderer needed);
- with any file output, a sidecar ``OUT.timeline.json``: per frame time, phase, active emotion
  and intensity;
- ``--vmc HOST[:PORT]`` / ``--ifacialmocap HOST[:PORT]``: the timeline sent in real time to
  VTuber apps (ARKit blendshapes and head pose; after the files are written).

Exit codes: 0 ok; 2 bad input (instruction not understood, unreadable image, no face, bad
options); 1 failure (renderer unavailable, write error).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

PLANNERS = ("auto", "i2fet", "lexicon")
EASING_CHOICES = ("minjerk", "cosine", "cubic", "linear")


class AnimateError(Exception):
    """A failure with a user-facing message and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "animate",
        help="render an instruction as a video (or write its per-frame coefficients)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("source", help="photo, saved avatar (.npz), or 'none' (with --coeffs)")
    parser.add_argument("instruction", help='e.g. "look surprised, then angry, then laugh"')
    parser.add_argument("-o", "--output", type=Path, default=None, help="output video (.mp4)")
    parser.add_argument("--frames-dir", type=Path, default=None, help="also write PNG frames here")
    parser.add_argument(
        "--coeffs", type=Path, default=None, help="write per-frame coefficients JSON"
    )
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    parser.add_argument(
        "--size", type=int, default=512, help="output frame size in px (default 512)"
    )
    parser.add_argument(
        "--planner",
        choices=PLANNERS,
        default="auto",
        help="auto: I2FET if its checkpoint exists, else the lexicon rules",
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="I2FET checkpoint directory")
    parser.add_argument(
        "--encoder", default=None, help="I2FET text encoder (default: the checkpoint's)"
    )
    parser.add_argument("--intensity", type=float, default=1.0, help="scale of every apex (0-2]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the idle motion")
    parser.add_argument(
        "--sample", type=int, default=None,
        help="plan with I2FET's CVAE prior sample N (default: none, the deterministic anchors "
        "the server plays)",
    )  # fmt: skip
    parser.add_argument("--easing", choices=EASING_CHOICES, default="minjerk")
    parser.add_argument("--onset", type=float, default=0.6, help="seconds into each emotion")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds each apex is held")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="factor on every transition time (>1 slower)"
    )
    parser.add_argument("--final-hold", type=float, default=1.5, help="seconds the last is held")
    parser.add_argument(
        "--no-neutral-midpoints",
        action="store_true",
        help="go straight from one emotion to the next (no neutral between)",
    )
    parser.add_argument("--no-idle", action="store_true", help="no blinks or idle head motion")
    from server.cli.cmd_serve import add_vtuber_arguments

    add_vtuber_arguments(parser, following=False)
    parser.add_argument(
        "--dynamics", choices=("eased", "learned"), default="eased",
        help="how each emotion unfolds: eased (all shapes on one curve, the default) or learned "
        "(the dynamics model of engines/dynamics: staggered shapes, their own curves)",
    )  # fmt: skip
    parser.add_argument("--dynamics-checkpoint", type=Path, default=None,
                        help="dynamics model (.pt; default: the packaged one)")  # fmt: skip
    parser.add_argument(
        "--plot", type=Path, default=None, help="also save a PNG plot of the curves"
    )
    parser.add_argument(
        "--strip", type=Path, default=None,
        help="also save a PNG strip of the generic ICT face at 10 moments (no renderer needed)",
    )  # fmt: skip
    parser.add_argument(
        "--sheet", type=Path, default=None,
        help="also save a PNG contact sheet of 10 rendered frames with time, phase and emotion",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except AnimateError as error:
        logger.error("%s", error)
        return error.code


def _run(args: argparse.Namespace) -> int:
    tracking = _check_args(args)
    started = time.perf_counter()
    from engines.instructions import LexiconPlanner

    planner = _make_planner(args)
    if isinstance(planner, LexiconPlanner):  # needs no face: fail fast before calibrating
        plan = _plan(planner, args, np.zeros(53, np.float32))
        avatar, start_expression = _load_source(args.source)
    else:
        avatar, start_expression = _load_source(args.source)
        plan = _plan(planner, args, start_expression)
    logger.info(
        "understood: %s%s",
        " -> ".join(f"{a.label} ({a.intensity:.2f})" for a in plan.anchors),
        f"; unknown words: {', '.join(plan.unknown_words)}" if plan.unknown_words else "",
    )

    from engines.face_model.ict import EXPRESSION_NAMES
    from engines.transition import IdleMotion, TransitionConfig, TransitionError, build_timeline

    try:
        config = TransitionConfig(
            fps=args.fps,
            onset_s=args.onset,
            apex_hold_s=args.hold,
            final_hold_s=args.final_hold,
            easing=args.easing,
            speed=args.speed,
            neutral_midpoints=not args.no_neutral_midpoints,
            seed=args.seed,
            dynamics=args.dynamics,
        )
        timeline = build_timeline(
            plan, start_expression, np.zeros(3, np.float32), config, dynamics=_dynamics(args)
        )
    except (TransitionError, ValueError) as error:
        raise AnimateError(str(error), 2) from error
    idle = None if args.no_idle else IdleMotion(config)
    expressions, poses = timeline.frames(idle)
    sidecar = timeline.to_json()
    sidecar["source"] = str(args.source)
    sidecar["planner"] = type(plan).__name__
    sidecar["understood"] = list(getattr(plan, "understood", ()))
    sidecar["unknown_words"] = list(getattr(plan, "unknown_words", ()))
    sidecar["idle"] = idle is not None

    written: list[Path] = []
    if args.coeffs is not None:
        written.append(
            _write_coeffs(args.coeffs, timeline.times, expressions, poses, EXPRESSION_NAMES)
        )
    if args.output is not None or args.coeffs is not None or args.frames_dir is not None:
        sidecar_path = _sidecar_path(args)
        _write_json(sidecar_path, sidecar)  # first: it exists even if rendering fails
        written.append(sidecar_path)
    if args.output is not None or args.frames_dir is not None:
        written += _render(args, avatar, expressions, poses, timeline)
    if tracking is not None:
        _send_to_vtuber_apps(tracking, expressions, poses, timeline.fps, EXPRESSION_NAMES)
    if args.plot is not None:
        from engines.transition.plot import plot_timeline

        written.append(plot_timeline(timeline, EXPRESSION_NAMES, args.plot, idle=idle))
    if args.strip is not None:
        from engines.face_model.ict import load_ict
        from engines.transition.plot import plot_timeline_strip

        model = load_ict(progress=False)
        written.append(plot_timeline_strip(timeline, model, args.strip, idle=idle))
    logger.info(
        "%d frames (%.2f s at %g fps) in %.1f s -> %s",
        timeline.num_frames, timeline.duration, timeline.fps, time.perf_counter() - started,
        ", ".join(str(p) for p in written),
    )  # fmt: skip
    return 0


def _dynamics(args: argparse.Namespace) -> Any:
    """The learned dynamics model for ``--dynamics learned``, else None."""
    if args.dynamics != "learned":
        return None
    try:
        from engines.dynamics import DynamicsError, LearnedDynamics
        from engines.face_model.ict import load_ict
    except ImportError as error:
        raise AnimateError(f"learned dynamics are not available: {error}", 1) from error
    try:
        return LearnedDynamics.load(load_ict(progress=False), args.dynamics_checkpoint)
    except DynamicsError as error:
        raise AnimateError(f"the learned dynamics model is not available: {error}", 1) from error


def _check_args(args: argparse.Namespace) -> Any:
    """Validate the options; the VTuber outputs' config (None without --vmc/--ifacialmocap)."""
    from server.cli.cmd_serve import tracking_from_args

    try:
        tracking = tracking_from_args(args)
    except ValueError as error:
        raise AnimateError(str(error), 2) from error
    if (
        args.output is None
        and args.frames_dir is None
        and args.coeffs is None
        and not tracking.enabled
    ):
        raise AnimateError(
            "nothing to write: give -o OUT.mp4, --frames-dir DIR, --coeffs FILE.json "
            "or --vmc HOST:PORT",
            2,
        )
    if not (math.isfinite(args.fps) and 1 <= args.fps <= 120):
        raise AnimateError(f"--fps must be in [1, 120], got {args.fps}", 2)
    if not (64 <= args.size <= 2048):
        raise AnimateError(f"--size must be in [64, 2048], got {args.size}", 2)
    if not (0 < args.intensity <= 2):
        raise AnimateError(f"--intensity must be in (0, 2], got {args.intensity}", 2)
    if not args.instruction.strip():
        raise AnimateError('the instruction is empty; try e.g. "make her smile"', 2)
    if len(args.instruction) > 1000:
        raise AnimateError("the instruction is too long (over 1000 characters)", 2)
    if args.output is not None and args.output.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise AnimateError(f"-o must end in .mp4 (got {args.output.name})", 2)
    if args.sheet is not None and args.output is None and args.frames_dir is None:
        raise AnimateError("--sheet shows rendered frames: give -o OUT.mp4 or --frames-dir too", 2)
    if str(args.source).lower() == "none" and (args.output or args.frames_dir):
        raise AnimateError(
            "source 'none' has no face to render: use a photo or avatar, or only --coeffs", 2
        )
    return tracking if tracking.enabled else None


def _send_to_vtuber_apps(
    tracking: Any,
    expressions: NDArray[np.float32],
    poses: NDArray[np.float32],
    fps: float,
    names: tuple[str, ...],
) -> None:
    """The (T, 53) expressions and (T, 3) pose offsets to the VTuber apps, in real time."""
    from server.vtuber import TrackingOutput
    from server.vtuber.playback import play

    output = TrackingOutput(tracking, names)
    try:
        seconds = play(output, expressions, poses, fps)
    except KeyboardInterrupt:
        logger.info("stopped after %d frames", output.frames_sent)
        return
    finally:
        output.close()
    failing = [log.target.label for log in output.logs if log.failed]
    logger.info(
        "sent %d frames in %.1f s to %s%s",
        output.frames_sent,
        seconds,
        ", ".join(log.target.label for log in output.logs),
        f" (could not reach {', '.join(failing)})" if failing else "",
    )


def _load_source(source: str) -> tuple[Any, NDArray[np.float32]]:
    """(avatar or None, (53,) start expression) from a photo, an avatar file or 'none'."""
    if source.lower() == "none":
        return None, np.zeros(53, np.float32)
    path = Path(source)
    if not path.is_file():
        raise AnimateError(f"no such file: {source}", 2)
    if path.suffix.lower() == ".npz":
        from engines.avatar import AvatarError, load_avatar

        try:
            avatar = load_avatar(path)
        except (AvatarError, OSError, ValueError) as error:
            raise AnimateError(f"cannot read avatar {source}: {error}", 2) from error
        return avatar, np.asarray(avatar.expression, np.float32)
    try:
        from calibration import CalibrationError, calibrate, load_image
    except ImportError as error:
        raise AnimateError(f"calibration is not available to read a photo: {error}", 1) from error
    try:
        image = load_image(path)
        result = calibrate(image)
    except CalibrationError as error:
        raise AnimateError(f"{source}: {error}", 2) from error
    avatar = result.avatar
    return avatar, np.asarray(avatar.expression, np.float32)


def _make_planner(args: argparse.Namespace) -> Any:
    """The I2FET planner (if chosen / available) or the lexicon planner."""
    from engines.instructions import LexiconPlanner

    planner: Any = None
    if args.planner in ("auto", "i2fet"):
        try:
            from engines.i2fet import InstructionPlanner

            planner = InstructionPlanner.load(args.checkpoint, encoder=args.encoder)
        except Exception as error:  # missing module, checkpoint or encoder: fall back or fail
            if args.planner == "i2fet":
                raise AnimateError(f"the I2FET planner is not available: {error}", 1) from error
            logger.info("I2FET planner unavailable (%s); using the lexicon planner", error)
    return planner if planner is not None else LexiconPlanner()


def _plan(planner: Any, args: argparse.Namespace, start_expression: NDArray[np.float32]) -> Any:
    """``planner.plan`` of the instruction; instruction errors become exit code 2."""
    from engines.instructions import NotUnderstoodError

    bad_instruction: tuple[type[BaseException], ...] = (NotUnderstoodError, ValueError)
    try:
        from engines.i2fet.exceptions import InstructionError

        bad_instruction += (InstructionError,)
    except ImportError:
        pass
    try:
        return planner.plan(
            args.instruction,
            current_expression=start_expression,
            current_pose=np.zeros(3, np.float32),
            intensity_scale=args.intensity,
            seed=args.sample,
        )
    except bad_instruction as error:
        raise AnimateError(str(error), 2) from error


def _sidecar_path(args: argparse.Namespace) -> Path:
    if args.output is not None:
        return args.output.with_suffix(".timeline.json")
    if args.coeffs is not None:
        name = args.coeffs.name.removesuffix(".json")
        return args.coeffs.with_name(f"{name}.timeline.json")
    return Path(args.frames_dir) / "timeline.json"


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1))
    except OSError as error:
        raise AnimateError(f"cannot write {path}: {error}", 1) from error
    return path


def _write_coeffs(
    path: Path,
    times: NDArray[np.float64],
    expressions: NDArray[np.float32],
    poses: NDArray[np.float32],
    names: tuple[str, ...],
) -> Path:
    data = {
        "expression_names": list(names),
        "pose_names": ["pitch", "yaw", "roll"],
        "pose_units": "radians (offset added to the avatar's fitted head rotation)",
        "times": [round(float(t), 6) for t in times],
        "expressions": np.round(expressions, 5).tolist(),
        "poses": np.round(poses, 6).tolist(),
    }
    return _write_json(path, data)


def _render(
    args: argparse.Namespace,
    avatar: Any,
    expressions: NDArray[np.float32],
    poses: NDArray[np.float32],
    timeline: Any,
) -> list[Path]:
    try:
        from engines.face_model.ict import load_ict
        from engines.render import AvatarRenderer, RenderConfig
    except ImportError as error:
        raise AnimateError(
            f"the renderer (engines.render) is not available here ({error}); "
            "use --coeffs OUT.json to write the trajectory instead",
            1,
        ) from error
    try:
        renderer = AvatarRenderer(avatar, load_ict(progress=False), RenderConfig(size=args.size))
    except Exception as error:  # the renderer's own errors, translated at this boundary
        raise AnimateError(f"cannot set up the renderer for {args.source}: {error}", 1) from error
    written: list[Path] = []
    fps = timeline.fps
    sheet_indices = set(np.linspace(0, len(expressions) - 1, 10).round().astype(int).tolist())
    sheet_frames: list[tuple[int, NDArray[np.uint8]]] = []
    writer = _VideoWriter(args.output, fps) if args.output is not None else None
    if args.frames_dir is not None:
        args.frames_dir.mkdir(parents=True, exist_ok=True)
    try:
        for index, (expression, pose) in enumerate(zip(expressions, poses, strict=True)):
            try:
                frame = np.asarray(renderer.render(expression, pose), dtype=np.uint8)
            except Exception as error:
                raise AnimateError(f"rendering frame {index} failed: {error}", 1) from error
            if writer is not None:
                writer.write(frame)
            if args.frames_dir is not None:
                _write_png(args.frames_dir / f"frame_{index:05d}.png", frame)
            if args.sheet is not None and index in sheet_indices:
                sheet_frames.append((index, frame.copy()))  # renderers may reuse buffers
            if index % 60 == 0:
                logger.debug("rendered frame %d / %d", index, len(expressions))
    except OSError as error:
        raise AnimateError(f"cannot write the animation: {error}", 1) from error
    finally:
        if writer is not None:
            writer.close()
    if args.sheet is not None:
        written.append(_write_sheet(args.sheet, sheet_frames, timeline))
    if args.output is not None:
        written.append(args.output)
    if args.frames_dir is not None:
        written.append(args.frames_dir)
    return written


def _write_sheet(
    path: Path, frames: list[tuple[int, NDArray[np.uint8]]], timeline: Any, cell: int = 192
) -> Path:
    """A grid of rendered frames (5 per row), each labelled with time, phase and emotion."""
    from PIL import Image, ImageDraw

    columns = min(5, len(frames))
    rows = -(-len(frames) // columns)
    sheet = Image.new("RGB", (columns * cell, rows * cell), (0, 0, 0))
    for k, (index, frame) in enumerate(frames):
        image = Image.fromarray(frame).resize((cell, cell), Image.Resampling.LANCZOS)
        draw = ImageDraw.Draw(image)
        label = (
            f"{timeline.times[index]:.1f}s {timeline.phases[index]} "
            f"{timeline.labels[index].replace('_', ' ')} {timeline.intensities[index]:.2f}"
        )
        draw.rectangle((0, 0, cell, 13), fill=(0, 0, 0))
        draw.text((3, 1), label, fill=(255, 255, 160))
        sheet.paste(image, ((k % columns) * cell, (k // columns) * cell))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sheet.quantize(colors=160, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    except OSError as error:
        raise AnimateError(f"cannot write {path}: {error}", 1) from error
    return path


def _write_png(path: Path, frame: NDArray[np.uint8]) -> None:
    import cv2

    if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
        raise AnimateError(f"cannot write {path}", 1)


class _VideoWriter:
    """RGB frames -> MP4 with PyAV (libx264 if this build of FFmpeg has it, else mpeg4).

    The stream takes the size of the first frame (cropped to even sides for yuv420p).
    """

    def __init__(self, path: Path, fps: float) -> None:
        import av

        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._fps = fps
        self._container = av.open(str(path), mode="w")
        self._stream: Any = None
        self._shape: tuple[int, int] = (0, 0)

    def _open_stream(self, height: int, width: int) -> None:
        from fractions import Fraction

        rate = Fraction(self._fps).limit_denominator(1001)
        try:
            stream: Any = self._container.add_stream("libx264", rate=rate)
            stream.options = {"crf": "20", "preset": "veryfast"}
        except Exception:  # FFmpeg without libx264
            stream = self._container.add_stream("mpeg4", rate=rate)
            stream.bit_rate = 4_000_000
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        self._stream = stream
        self._shape = (height, width)

    def write(self, frame: NDArray[np.uint8]) -> None:
        import av

        if frame.ndim != 3 or frame.shape[2] != 3:
            raise AnimateError(f"the renderer returned a frame of shape {frame.shape}", 1)
        if self._stream is None:
            self._open_stream(
                frame.shape[0] - frame.shape[0] % 2, frame.shape[1] - frame.shape[1] % 2
            )
        height, width = self._shape
        frame = np.ascontiguousarray(frame[:height, :width], dtype=np.uint8)
        if frame.shape[:2] != (height, width):
            raise AnimateError("the renderer changed the frame size during the animation", 1)
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()
