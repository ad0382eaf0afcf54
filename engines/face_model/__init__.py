"""Parametric face models: the ICT Face Model Light (default) and FLAME (optional)."""

from engines.face_model.blend import (
    blend_vertices,
    blend_vertices_torch,
    rigid_transform,
    rigid_transform_torch,
)
from engines.face_model.camera import (
    OrthoCamera,
    euler_to_matrix,
    euler_to_matrix_torch,
    matrix_to_euler,
    project,
    project_torch,
)
from engines.face_model.exceptions import (
    ChecksumMismatchError,
    FaceModelError,
    ModelDownloadError,
    ModelFilesNotFoundError,
    ModelFormatError,
)
from engines.face_model.ict import EXPRESSION_NAMES, FaceModelData, load_ict

__all__ = [
    "EXPRESSION_NAMES",
    "ChecksumMismatchError",
    "FaceModelData",
    "FaceModelError",
    "ModelDownloadError",
    "ModelFilesNotFoundError",
    "ModelFormatError",
    "OrthoCamera",
    "blend_vertices",
    "blend_vertices_torch",
    "euler_to_matrix",
    "euler_to_matrix_torch",
    "load_ict",
    "matrix_to_euler",
    "project",
    "project_torch",
    "rigid_transform",
    "rigid_transform_torch",
]
