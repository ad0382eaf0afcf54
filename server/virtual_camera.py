"""Send a session's frames to a virtual camera (OBS, v4l2loopback) through pyvirtualcam.

The sender runs in its own thread, paced by pyvirtualcam, reading the newest frame of the
session (latest frame wins, as for WebRTC). The picture is sent as rendered: never mirrored
(the web page's mirror is a view setting of the page only).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import cv2
import numpy as np

from server.exceptions import ServerError
from server.frames import FrameSlot

__all__ = ["VirtualCamera", "VirtualCameraOutput", "open_virtual_camera"]

logger = logging.getLogger(__name__)

NO_DEVICE_HELP = (
    "no virtual camera device found. On Linux load v4l2loopback first, e.g. "
    "`sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=Facecast`; "
    "on Windows/macOS install OBS Studio and start its virtual camera once"
)


class VirtualCamera(Protocol):
    """What is used of ``pyvirtualcam.Camera``."""

    width: int
    height: int
    fps: float

    def send(self, frame: Any) -> None: ...

    def sleep_until_next_frame(self) -> None: ...

    def close(self) -> None: ...


def open_virtual_camera(
    size: int,
    fps: float,
    device: str | None = None,
    factory: Callable[..., VirtualCamera] | None = None,
    backend: str | None = None,
) -> VirtualCamera:
    """Open a (size × size) RGB virtual camera.

    Args:
        backend: pyvirtualcam backend name (None: the first that opens).

    Raises:
        ServerError: ``no_virtual_camera`` with instructions when no device exists,
            ``bad_virtual_camera_backend`` when the backend name is unknown.
    """
    if factory is None:
        try:
            import pyvirtualcam
        except ImportError as error:
            raise ServerError(
                f"pyvirtualcam is not installed: {error}", "no_virtual_camera"
            ) from error
        factory = pyvirtualcam.Camera
        if backend is not None and backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(sorted(pyvirtualcam.camera.BACKENDS)) or "none on this system"
            raise ServerError(
                f"unknown virtual camera backend {backend!r} (known: {known})",
                "bad_virtual_camera_backend",
            )
    options: dict[str, Any] = {"width": size, "height": size, "fps": fps}
    if device:
        options["device"] = device
    if backend:
        options["backend"] = backend
    try:
        return factory(**options)
    except (RuntimeError, OSError, ValueError) as error:
        raise ServerError(
            f"{NO_DEVICE_HELP} (pyvirtualcam: {error})", "no_virtual_camera"
        ) from error


class VirtualCameraOutput:
    """Pushes the newest frame of ``frames`` to ``camera`` from a background thread."""

    def __init__(self, camera: VirtualCamera, frames: FrameSlot) -> None:
        self.camera = camera
        self.frames = frames
        self.frames_sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="virtual-camera", daemon=True)

    def start(self) -> None:
        self.frames.attach()
        self._thread.start()

    def _run(self) -> None:
        size = (int(self.camera.width), int(self.camera.height))
        period = 1.0 / max(float(getattr(self.camera, "fps", 30.0)), 1.0)
        while not self._stop.is_set():
            produced = self.frames.latest()
            if produced is None:  # nothing yet: pyvirtualcam paces only after a first send
                self._stop.wait(period)
                continue
            image = produced.image
            if (image.shape[1], image.shape[0]) != size:
                resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                image = np.asarray(resized, np.uint8)
            try:
                self.camera.send(np.ascontiguousarray(image))
                self.frames_sent += 1
            except Exception:
                logger.exception("virtual camera: send failed; stopping it")
                return
            self.camera.sleep_until_next_frame()

    def stop(self) -> None:
        """Stop the thread and close the camera (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self.frames.detach()
        try:
            self.camera.close()
        except Exception:
            logger.debug("virtual camera close failed", exc_info=True)
