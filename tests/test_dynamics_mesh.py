"""engines.dynamics mesh parts: quadric edge collapse, spirals, the ICT hierarchy, layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.dynamics import HierarchyError, decimate, spiral_indices
from engines.dynamics.layers import SpiralConv, UpSample


def _grid(n: int, hole: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """An (n x n) grid of the unit square in z = 0.1 * bump, optionally with a square hole."""
    xs, ys = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    vertices = np.stack([xs.ravel(), ys.ravel(), 0.1 * np.sin(3 * xs.ravel())], axis=1)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            if hole and n // 3 <= i < 2 * n // 3 and n // 3 <= j < 2 * n // 3:
                continue
            a, b, c, d = i * n + j, i * n + j + 1, (i + 1) * n + j, (i + 1) * n + j + 1
            faces += [(a, b, d), (a, d, c)]
    return vertices, np.array(faces)


def _euler(num_vertices: int, faces: np.ndarray) -> int:
    edges = {tuple(sorted(e)) for f in faces.tolist() for e in ((f[0], f[1]), (f[1], f[2]),
                                                                   (f[2], f[0]))}  # fmt: skip
    return num_vertices - len(edges) + len(faces)


@pytest.mark.parametrize("hole", [False, True])
def test_decimate_keeps_topology_and_a_subset(hole: bool) -> None:
    vertices, faces = _grid(16, hole)
    used = np.unique(faces)
    result = decimate(vertices, faces, 60)
    assert len(result.kept) == 60
    assert set(result.kept.tolist()) <= set(used.tolist())
    assert result.faces.min() >= 0 and result.faces.max() < 60
    assert _euler(60, result.faces) == _euler(len(used), faces)  # disc: 1, with a hole: 0
    # consistently oriented: every coarse triangle faces +z like the input
    coarse = vertices[result.kept][result.faces]
    normals = np.cross(coarse[:, 1] - coarse[:, 0], coarse[:, 2] - coarse[:, 0])
    assert (normals[:, 2] > 0).all()


def test_decimate_keeps_the_border() -> None:
    vertices, faces = _grid(12)
    result = decimate(vertices, faces, 40)
    kept = vertices[result.kept]
    corners = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    for x, y in corners:  # the square's corners cost the most to collapse along its border
        assert np.min(np.hypot(kept[:, 0] - x, kept[:, 1] - y)) < 1e-9


def test_decimate_rejects_bad_input() -> None:
    vertices, faces = _grid(6)
    with pytest.raises(HierarchyError, match="target_vertices"):
        decimate(vertices, faces, 100)
    with pytest.raises(HierarchyError, match="index vertices"):
        decimate(vertices, faces + 100, 10)
    with pytest.raises(HierarchyError, match=r"\(V, 3\)"):
        decimate(vertices[:, :2], faces, 10)


def test_spirals_start_at_the_vertex_and_wind_counter_clockwise_from_up() -> None:
    vertices, faces = _grid(7)
    spirals = spiral_indices(vertices, faces, 9)
    centre = 3 * 7 + 3
    spiral = spirals[centre]
    assert spiral[0] == centre
    ring = spiral[1:7]  # the six neighbours of an interior grid vertex
    assert set(ring.tolist()) == {centre - 8, centre - 7, centre - 1, centre + 1, centre + 7,
                                  centre + 8}  # fmt: skip
    assert ring[0] == centre + 7  # straight "up" (+y) first
    offsets = vertices[ring, :2] - vertices[centre, :2]
    angles = np.unwrap(np.arctan2(-offsets[:, 0], offsets[:, 1]))  # from +y, counter-clockwise
    assert np.all(np.diff(angles) > 0)
    corner_spiral = spirals[0]  # a corner has 2-3 neighbours: padded with itself if short
    assert corner_spiral[0] == 0 and len(set(corner_spiral.tolist())) >= 4


def test_spiral_conv_equals_the_gathered_linear_map() -> None:
    vertices, faces = _grid(6)
    spirals = spiral_indices(vertices, faces, 5)
    conv = SpiralConv(3, 4, spirals)
    x = torch.randn(len(vertices), 2, 3)  # (V, N, C)
    gathered = x[torch.from_numpy(spirals)]  # (V, S, N, C)
    expected = torch.einsum("vsnc,sco->vno", gathered, conv.weight) + conv.bias
    assert torch.allclose(conv(x), expected, atol=1e-5)
    x.requires_grad_(True)
    conv(x).sum().backward()  # the custom sparse backward
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_upsample_equals_the_dense_matrix() -> None:
    rows = np.repeat(np.arange(4), 3)
    cols = np.array([0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2])
    values = np.array([0.2, 0.3, 0.5, 1, 0, 0, 0.1, 0.1, 0.8, 0.4, 0.4, 0.2], np.float32)
    dense = np.zeros((4, 3), np.float32)
    np.add.at(dense, (rows, cols), values)
    layer = UpSample(rows, cols, values, (4, 3))
    x = torch.randn(3, 2, 5)
    expected = torch.einsum("fc,cnk->fnk", torch.from_numpy(dense), x)
    assert torch.allclose(layer(x), expected, atol=1e-6)


def test_ict_hierarchy(ict) -> None:
    from engines.dynamics import load_hierarchy

    hierarchy = load_hierarchy(ict)
    assert hierarchy.sizes() == (6706, 1677, 420, 105, 27)
    assert np.array_equal(hierarchy.region_vertices, np.arange(6706))
    for level in range(1, hierarchy.num_levels):
        up = hierarchy.up_matrix(level).to_dense().numpy()
        assert np.allclose(up.sum(axis=1), 1.0, atol=1e-5) and up.min() >= 0
        # a kept vertex copies itself: the coarse level lives on the fine one
        kept = np.searchsorted(hierarchy.level_vertices[level - 1], hierarchy.level_vertices[level])
        assert np.allclose(up[kept], np.eye(up.shape[1]), atol=1e-6)
    # a smooth deformation survives the trip down to level 1 and back up
    shape = ict.expression_basis[ict.expression_index("browInnerUp_L")][:6706]
    up1 = hierarchy.up_matrix(1).to_dense().numpy()
    rebuilt = up1 @ shape[hierarchy.level_vertices[1]]
    assert np.linalg.norm(rebuilt - shape, axis=1).mean() < 0.005  # cm
    assert len(hierarchy.fingerprint) == 64
