"""Real-time avatar renderer: rasterizer -> fragments -> shader -> compositor (CPU, numba)."""

from engines.render.config import BACKENDS, RenderConfig
from engines.render.exceptions import AvatarMismatchError, RenderError, RenderInputError
from engines.render.rasterizer import Fragments
from engines.render.renderer import AvatarRenderer

__all__ = [
    "BACKENDS",
    "AvatarMismatchError",
    "AvatarRenderer",
    "Fragments",
    "RenderConfig",
    "RenderError",
    "RenderInputError",
]
