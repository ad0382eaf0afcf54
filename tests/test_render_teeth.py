"""``engines.render.teeth``: which crop pixels show which surface of the mouth's interior at
the photo's own expression, and how much of each the photo shows as her mouth."""

from __future__ import annotations

import numpy as np

from engines.render.teeth import photo_interior


def test_each_pixel_keeps_the_surface_the_photo_showed_there() -> None:
    """A 2x2 raster over a 4x4 crop: triangle 0 is the upper teeth (surface 1), triangle 1
    the tongue (4), triangle 2 skin (0), one pixel empty; the share survives only over an
    interior surface."""
    source_triangle = np.array([[0, 1], [2, -1]], np.int32)
    interior_surface = np.array([1, 4, 0], np.int8)
    share = np.full((4, 4), 0.8, np.float32)
    found = photo_interior(share, source_triangle, interior_surface)
    assert found.surface.dtype == np.int8 and found.surface.shape == (4, 4)
    np.testing.assert_array_equal(found.surface[:2, :2], 1)
    np.testing.assert_array_equal(found.surface[:2, 2:], 4)
    np.testing.assert_array_equal(found.surface[2:], 0)
    np.testing.assert_allclose(found.share[:2], 0.8)
    np.testing.assert_allclose(found.share[2:], 0.0)
