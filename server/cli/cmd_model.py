"""``facecast model fetch|info``: locate, download and convert the ICT face model."""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("model", help="fetch, convert and describe the ICT face model")
    parser.add_argument("action", choices=["fetch", "info"], help="fetch: make the model ready")
    parser.add_argument("--ict-dir", default=None, help="ICT-FaceKit directory (else search)")
    parser.add_argument("--force", action="store_true", help="convert again even if cached")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engines.face_model.assets import find_ict_dir
    from engines.face_model.exceptions import FaceModelError
    from engines.face_model.ict import default_cache_file, load_ict

    try:
        started = time.perf_counter()
        explicit = args.ict_dir if (args.ict_dir or args.force) else None
        if args.force and explicit is None:
            explicit = find_ict_dir()
        model = load_ict(explicit, progress=True)
        seconds = time.perf_counter() - started
    except FaceModelError as error:
        logger.error("%s", error)
        return 1
    info: dict[str, Any] = {
        "cache": str(default_cache_file()),
        "commit": model.commit,
        "vertices": model.num_vertices,
        "triangles": int(model.faces.shape[0]),
        "identity_modes": model.num_identity,
        "expressions": model.num_expressions,
        "seconds": round(seconds, 3),
    }
    if args.action == "info":
        print(json.dumps(info, indent=2))
    else:
        print(f"ICT face model ready: {info['cache']} ({seconds:.2f} s)")
    return 0
