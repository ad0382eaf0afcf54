"""Settings of the VTuber outputs: one dataclass, built from the command line in one place."""

from __future__ import annotations

from dataclasses import dataclass

from server.vtuber.arkit import NAME_STYLES
from server.vtuber.exceptions import VtuberConfigError
from server.vtuber.targets import Target, parse_target

__all__ = [
    "IFACIALMOCAP_PORT",
    "SESSION_CHOICES",
    "VMC_PORT",
    "TrackingConfig",
    "tracking_config",
]

VMC_PORT = 39539
"""The VMC protocol's "Marionette" (receiving app) port: VSeeFace, VNyan, Warudo, ..."""
IFACIALMOCAP_PORT = 49983
"""iFacialMocap's UDP port."""
SESSION_CHOICES: tuple[str, ...] = ("broadcast", "latest")


@dataclass(frozen=True)
class TrackingConfig:
    """Where and how the avatar's face goes to VTuber apps.

    Attributes:
        vmc: VMC receivers (``--vmc HOST[:PORT]``, repeatable; default port 39539).
        names: ``"arkit"`` (``eyeBlinkLeft``, Perfect Sync) or ``"pascal"`` (``EyeBlinkLeft``).
        ifacialmocap: receivers of iFacialMocap's UDP text (``--ifacialmocap``; port 49983).
        session: which session ``facecast serve`` follows: ``"broadcast"`` (the shared one:
            kiosk, virtual camera, websocket) or ``"latest"`` (the newest browser session
            still open, e.g. the streamer's own page; none open: nothing is sent).
        neck_share: share of the head rotation given to the Neck bone (the Head takes the
            rest), in [0, 1].
    """

    vmc: tuple[Target, ...] = ()
    names: str = "arkit"
    ifacialmocap: tuple[Target, ...] = ()
    session: str = "broadcast"
    neck_share: float = 0.35

    def __post_init__(self) -> None:
        if self.names not in NAME_STYLES:
            raise VtuberConfigError(
                f"--vmc-names must be one of {', '.join(NAME_STYLES)}, got {self.names!r}"
            )
        if self.session not in SESSION_CHOICES:
            raise VtuberConfigError(
                f"--vmc-session must be one of {', '.join(SESSION_CHOICES)}, got {self.session!r}"
            )
        if not 0.0 <= self.neck_share <= 1.0:
            raise VtuberConfigError(f"neck_share must be in [0, 1], got {self.neck_share}")

    @property
    def enabled(self) -> bool:
        return bool(self.vmc or self.ifacialmocap)


def tracking_config(
    vmc: list[str] | tuple[str, ...],
    ifacialmocap: list[str] | tuple[str, ...] = (),
    *,
    names: str = "arkit",
    session: str = "broadcast",
) -> TrackingConfig:
    """The config from the command line's strings (each address validated and resolved).

    Raises:
        VtuberConfigError: a bad address (:class:`BadTargetError`), name style or session.
    """
    return TrackingConfig(
        vmc=tuple(parse_target(text, VMC_PORT, option="--vmc") for text in vmc),
        names=names,
        ifacialmocap=tuple(
            parse_target(text, IFACIALMOCAP_PORT, option="--ifacialmocap") for text in ifacialmocap
        ),
        session=session,
    )
