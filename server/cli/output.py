"""What the evaluation commands write: one JSON report, to ``--output`` and/or stdout."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def emit_json(result: dict[str, Any], args: argparse.Namespace, *, sort_keys: bool = True) -> bool:
    """Write ``result`` to ``args.output`` if given (its folder made); print it and return True
    under ``args.json`` (the caller then prints no summary)."""
    text = json.dumps(result, indent=2, sort_keys=sort_keys)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n")
    if args.json:
        print(text)
    return bool(args.json)
