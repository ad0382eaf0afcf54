"""``facecast bench --json``: run every benchmark under tests/bench and write one JSON.

Each ``tests/bench/bench_<part>.py`` defines ``run(quick: bool) -> dict[str, object]``; the
keys of all parts are merged into one flat object (keys are unique per part by convention,
e.g. ``render_fps_512``, ``calibrate_ms_median``). A part that fails is reported under
``errors`` and the others still run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

BENCH_DIR = Path(__file__).resolve().parents[2] / "tests" / "bench"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bench", help="run the benchmarks, write JSON")
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    parser.add_argument("-o", "--output", default=None, help="write the JSON here too")
    parser.add_argument("--only", default=None, help="comma-separated parts, e.g. render,stream")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.set_defaults(func=run)


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"facecast_bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args: argparse.Namespace) -> int:
    wanted = set(args.only.split(",")) if args.only else None
    result: dict[str, Any] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "errors": {},
    }
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        part = path.stem.removeprefix("bench_")
        if wanted is not None and part not in wanted:
            continue
        logger.info("benchmark %s ...", part)
        started = time.perf_counter()
        try:
            values = _load(path).run(quick=args.quick)
        except Exception as error:  # one failing part must not hide the others
            logger.error("benchmark %s failed: %s", part, error)
            result["errors"][part] = "".join(traceback.format_exception_only(error)).strip()
            logger.debug("%s", traceback.format_exc())
            continue
        result.update(values)
        result[f"{part}_bench_seconds"] = round(time.perf_counter() - started, 2)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n")
    if args.json or not args.output:
        print(text)
    return 1 if result["errors"] else 0
