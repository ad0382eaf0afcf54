"""A minimal, fast Wavefront OBJ reader for the ICT topology (``v``, ``vt``, ``f``, ``usemtl``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engines.face_model.exceptions import ModelFormatError

__all__ = ["ObjMesh", "parse_obj", "parse_obj_vertices", "triangulate"]


@dataclass(frozen=True)
class ObjMesh:
    """One OBJ file.

    Attributes:
        vertices: (V, 3) float32 positions.
        uvs: (T, 2) float32 texture coordinates.
        polygon_vertices: list of P int arrays, each (n_i,) 0-based vertex indices.
        polygon_uvs: list of P int arrays, each (n_i,) 0-based UV indices.
        polygon_material: (P,) int32 index into ``materials``.
        materials: material names in order of first use.
    """

    vertices: NDArray[np.float32]
    uvs: NDArray[np.float32]
    polygon_vertices: list[NDArray[np.int64]]
    polygon_uvs: list[NDArray[np.int64]]
    polygon_material: NDArray[np.int32]
    materials: list[str]


def _floats(lines: list[bytes], width: int, what: str) -> NDArray[np.float32]:
    if not lines:
        return np.zeros((0, width), np.float32)
    values = np.array(b" ".join(lines).split(), dtype=np.float64)
    if values.size != len(lines) * width:
        raise ModelFormatError(f"malformed {what} lines (expected {width} numbers each)")
    return values.reshape(len(lines), width).astype(np.float32)


def _uv_index(corner: bytes) -> int:
    """0-based UV index of an ``f`` corner ``v/vt[/vn]``, or -1 when it has none."""
    parts = corner.split(b"/")
    return int(parts[1]) - 1 if len(parts) > 1 and parts[1] else -1


def parse_obj_vertices(data: bytes) -> NDArray[np.float32]:
    """Only the ``v`` positions of an OBJ: (V, 3) float32. Fast path for shape files."""
    lines = [line[2:] for line in data.splitlines() if line.startswith(b"v ")]
    return _floats(lines, 3, "v")


def parse_obj(data: bytes) -> ObjMesh:
    """Parse positions, UVs, polygons and materials of an OBJ."""
    v_lines: list[bytes] = []
    vt_lines: list[bytes] = []
    polygon_vertices: list[NDArray[np.int64]] = []
    polygon_uvs: list[NDArray[np.int64]] = []
    polygon_material: list[int] = []
    materials: list[str] = []
    current = -1
    for line in data.splitlines():
        if line.startswith(b"v "):
            v_lines.append(line[2:])
        elif line.startswith(b"vt "):
            vt_lines.append(line[3:])
        elif line.startswith(b"f "):
            corners = line[2:].split()
            vertex_ids = np.array([int(c.split(b"/")[0]) - 1 for c in corners], np.int64)
            uv_ids = np.array(
                [
                    int(c.split(b"/")[1]) - 1 if b"/" in c and c.split(b"/")[1] else -1
                    for c in corners
                ],
                np.int64,
            )
            polygon_vertices.append(vertex_ids)
            polygon_uvs.append(uv_ids)
            polygon_material.append(current)
        elif line.startswith(b"usemtl "):
            name = line[7:].strip().decode()
            if name not in materials:
                materials.append(name)
            current = materials.index(name)
    vts = (
        _floats(vt_lines, 2, "vt")
        if vt_lines and len(vt_lines[0].split()) == 2
        else (_floats([b" ".join(v.split()[:2]) for v in vt_lines], 2, "vt"))
    )
    return ObjMesh(
        vertices=_floats(v_lines, 3, "v"),
        uvs=vts,
        polygon_vertices=polygon_vertices,
        polygon_uvs=polygon_uvs,
        polygon_material=np.array(polygon_material, np.int32),
        materials=materials,
    )


def triangulate(
    mesh: ObjMesh,
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Fan-triangulate every polygon.

    Returns:
        faces: (F, 3) int32 vertex indices.
        face_uvs: (F, 3) int32 UV indices.
        face_polygon: (F,) int32 index of the source polygon of each triangle.
    """
    faces: list[list[int]] = []
    face_uvs: list[list[int]] = []
    face_polygon: list[int] = []
    for index, (vertex_ids, uv_ids) in enumerate(
        zip(mesh.polygon_vertices, mesh.polygon_uvs, strict=True)
    ):
        for k in range(1, len(vertex_ids) - 1):
            faces.append([int(vertex_ids[0]), int(vertex_ids[k]), int(vertex_ids[k + 1])])
            face_uvs.append([int(uv_ids[0]), int(uv_ids[k]), int(uv_ids[k + 1])])
            face_polygon.append(index)
    return (
        np.array(faces, np.int32),
        np.array(face_uvs, np.int32),
        np.array(face_polygon, np.int32),
    )
