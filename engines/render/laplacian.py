"""Harmonic interpolation over a triangle mesh's graph (the unseen skin's photo positions, the
lid's stretch under rigid brows)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["harmonic_fill"]


def harmonic_fill(
    values: NDArray[np.floating], unknown: NDArray[np.bool_], faces: NDArray[np.int32]
) -> None:
    """Replace ``values`` (V, C) at the ``unknown`` (V,) vertices by the harmonic interpolation
    of the others (graph Laplacian over the edges of ``faces`` (F, 3), indices < V, each edge
    weighted 1), in place. Vertices on no face keep their values; nothing changes when no
    vertex is known."""
    from scipy.sparse import coo_matrix, diags
    from scipy.sparse.linalg import splu

    count = values.shape[0]
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]]).astype(np.int64)
    adjacency = coo_matrix(
        (np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count)
    ).tocsr()
    adjacency.data[:] = 1.0
    degree = np.asarray(adjacency.sum(1)).ravel()
    free = np.flatnonzero(unknown & (degree > 0))
    known = np.flatnonzero(~unknown)
    if len(free) == 0 or len(known) == 0:
        return
    rows = adjacency[free]
    system = diags(degree[free] + 1e-6, format="csr") - rows[:, free]
    rhs = rows[:, known] @ values[known].astype(np.float64)
    values[free] = splu(system.tocsc()).solve(rhs).astype(values.dtype)
