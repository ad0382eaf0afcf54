"""``facecast send "instruction" --url ws://127.0.0.1:8080/ws``: drive a running server."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "send",
        help="send an instruction to a running server over its websocket",
        description="Send one instruction to a running `facecast serve` and print what the "
        "server understood (plan) and when it is done. Without --session it drives the "
        "broadcast session (kiosk page, virtual camera): with the server's --token, or from "
        "the server's own machine when it has none. With --session ID --key KEY it drives a "
        "browser's session (the page copies both: click its session id).",
    )
    parser.add_argument(
        "text", help='the instruction, e.g. "Turn this face from disgust to happiness"'
    )
    parser.add_argument(
        "--url", default="ws://127.0.0.1:8080/ws", help="the server's websocket URL"
    )
    parser.add_argument(
        "--token", default=None, help="the server's operator token (--token of serve)"
    )
    parser.add_argument("--session", default=None, help="session id shown in the web page")
    parser.add_argument(
        "--key", default=None, help="that session's key (the page copies it with the id)"
    )
    parser.add_argument("--intensity", type=float, default=None, help="intensity scale in [0, 2]")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for done")
    parser.add_argument("--json", action="store_true", help="print every event as JSON")
    parser.set_defaults(func=run)


def _describe(event: dict[str, Any]) -> str | None:
    kind = event.get("type")
    if kind == "plan":
        anchors = ", ".join(f"{a['label']} {a['intensity']:.2f}" for a in event.get("anchors", []))
        unknown = event.get("unknown_words") or []
        extra = f"; unknown words: {', '.join(unknown)}" if unknown else ""
        return f"understood: {anchors or '-'} ({event.get('duration', 0):.1f} s){extra}"
    if kind == "done":
        result = event.get("result") or {}
        if result.get("interrupted"):
            return f"{event.get('command')}: interrupted by a newer instruction"
        if result.get("cancelled"):
            return f"{event.get('command')}: cancelled"
        return f"done: {event.get('command')}"
    if kind == "error":
        return f"error [{event.get('code')}]: {event.get('message')}"
    return None


def run(args: argparse.Namespace) -> int:
    import websockets

    from server.ws_client import send_instruction

    def show(event: dict[str, Any]) -> None:
        line = json.dumps(event) if args.json else _describe(event)
        if line:
            print(line, flush=True)

    try:
        events = asyncio.run(
            send_instruction(
                args.url,
                args.text,
                intensity=args.intensity,
                token=args.token,
                session=args.session,
                key=args.key,
                timeout=args.timeout,
                on_event=show,
            )
        )
    except websockets.InvalidStatus as error:
        print(f"facecast send: the server refused the connection: {error}", file=sys.stderr)
        return 1
    except (OSError, websockets.InvalidURI, websockets.InvalidHandshake) as error:
        print(f"facecast send: cannot reach {args.url}: {error}", file=sys.stderr)
        return 1
    except TimeoutError as error:
        print(f"facecast send: {error}", file=sys.stderr)
        return 1
    last = events[-1] if events else {}
    if last.get("type") == "error":
        return 2 if last.get("code") in ("not_understood", "bad_field", "bad_message") else 1
    return 0
