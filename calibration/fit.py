"""Fit the ICT model to 2D landmarks: identity, expression, head rotation and camera.

Camera model: scaled orthographic (weak perspective), exactly ``engines.face_model.camera``:
``u = s·(R X)_x + t_u``, ``w = -s·(R X)_y + t_w`` with ``s`` in px/cm. The shape at the
landmarks is ``X = X̄ + Σ_k c_k I_k + Σ_e ψ_e E_e`` sampled through the correspondence table.

Objective (residuals measured in centimetres, i.e. pixels divided by ``s``, so the priors do
not depend on the image size)::

    Σ_l ρ(‖W_l (p_l(R, s, t, c, ψ) − y_l)‖ / s) + λ_id ‖c‖² + λ_1 Σ_e m_e ψ_e + λ_2 ‖ψ‖²,
    ψ ∈ [0, 1]^53

* ``W_l`` is the landmark weight; on the face outline it keeps only a fraction of the
  component along the contour (a sliding contour: the outline of the photo is a silhouette,
  its points do not belong to fixed surface points).
* ``ρ`` is a Cauchy loss applied by iterative reweighting (robust to a few bad landmarks).
* The identity prior is a ridge on the PCA coefficients (ICT modes are scaled by their
  standard deviation); the expression prior is an L1 (sparsity: the fewest shapes that
  explain the landmarks, never a "bit of everything") plus a small ridge; ``m_e`` raises the
  cost of shapes that landmarks barely see (cheek puff, nose sneer, ...).

Solver:

1. Initial pose from an affine camera fitted to the mean shape, projected to the closest
   scaled rotation.
2. A few alternations of (a) Gauss-Newton on the pose ``(R, s, t)`` for a fixed shape and
   (b) the shape problem for a fixed pose, which is linear: normal equations with the
   priors, the unbounded identity block eliminated (Schur complement) and the remaining box
   QP in ψ solved exactly by coordinate descent (numba).
3. Damped joint Gauss-Newton (Levenberg-Marquardt style, step accepted only when the
   objective decreases) on all parameters at once, each step solved the same way with the
   pose increments joining the eliminated block; robust weights are refreshed every step.
   Alternation alone stalls (pose and shape are coupled); the joint steps recover the
   generating parameters exactly on noise-free synthetic data.
4. Optionally (``FitConfig.refit_selected``, off by default) a debiasing step as in the
   relaxed lasso: the L1 term selects the active shapes but also shrinks every one of them
   by the same amount (a weak brow raise vanishes, a strong one comes back short); the
   shapes above ``selection_threshold`` are refitted with ``refit_l1_fraction`` of the L1
   weight, every other shape held at 0, by the same joint steps from the first solution.

Only the 478 × 3 basis rows at the landmarks are used, never the full mesh.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numba
import numpy as np
from numpy.typing import NDArray

from calibration.correspondence import LandmarkCorrespondence
from engines.face_model.camera import OrthoCamera, euler_to_matrix, matrix_to_euler
from engines.face_model.ict import FaceModelData

__all__ = ["DEFAULT_EXPRESSION_COSTS", "FitConfig", "FitResult", "LandmarkFitter"]

logger = logging.getLogger(__name__)

# Shapes the landmarks barely constrain cost more (multiplies the L1 weight).
DEFAULT_EXPRESSION_COSTS: dict[str, float] = {
    "cheekPuff_L": 4.0,
    "cheekPuff_R": 4.0,
    "noseSneer_L": 3.0,
    "noseSneer_R": 3.0,
    "jawForward": 3.0,
    "mouthFunnel": 3.0,
    "mouthPucker": 2.0,
    "mouthRollLower": 2.0,
    "mouthRollUpper": 2.0,
    "mouthShrugLower": 2.0,
    "mouthShrugUpper": 2.0,
    "mouthPress_L": 2.0,
    "mouthPress_R": 2.0,
    "cheekSquint_L": 2.0,
    "cheekSquint_R": 2.0,
    "mouthClose": 2.0,
}


@dataclass(frozen=True)
class FitConfig:
    """Settings of the landmark fit.

    Attributes:
        num_identity: identity PCA modes fitted (the first K of 100).
        identity_prior: ridge weight λ_id on the identity coefficients. With residuals in cm
            and unit-variance PCA coefficients this is the landmark noise variance of a MAP
            fit: 0.01 = 1 mm (mediapipe + correspondence error at webcam resolutions).
        expression_l1: L1 (sparsity) weight λ_1 on the expression coefficients.
        expression_l2: ridge weight λ_2 on the expression coefficients.
        expression_costs: per-shape multipliers of λ_1 (shapes not listed: 1).
        outline_tangent_weight: fraction of the along-contour residual kept on the face outline.
        iterations: outer alternations (pose, then shape) that initialise the joint solve.
        pose_steps: Gauss-Newton steps on the pose per alternation.
        joint_iterations: most damped Gauss-Newton steps on all parameters at once.
        tolerance: stop the joint steps when the objective improves by less than this
            fraction.
        robust_scale_cm: Cauchy loss scale in cm (residuals far above it are down-weighted).
        refit_selected: after the fit, refit the selected shapes (``> selection_threshold``)
            with the L1 weight scaled by ``refit_l1_fraction``, the others held at 0 (a
            relaxed-lasso debiasing step; ``facecast fit-sequence`` uses it, single-photo
            calibration does not).
        selection_threshold: a shape above this is selected for the refit.
        refit_l1_fraction: share of the L1 weight kept in the refit (0 = none).
        refit_l2_fraction: share of the ridge weight kept in the refit (the ridge shrinks
            too: 0.05 took a tenth of a brow raise on the renderer's astronaut).
    """

    num_identity: int = 60
    identity_prior: float = 0.01
    expression_l1: float = 0.2
    expression_l2: float = 0.05
    expression_costs: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_EXPRESSION_COSTS)
    )
    outline_tangent_weight: float = 0.3
    iterations: int = 4
    pose_steps: int = 3
    joint_iterations: int = 12
    tolerance: float = 1e-4
    robust_scale_cm: float = 0.6
    refit_selected: bool = False
    selection_threshold: float = 0.02
    refit_l1_fraction: float = 0.0
    refit_l2_fraction: float = 0.2

    def __post_init__(self) -> None:
        if not 0 <= self.num_identity <= 100:
            raise ValueError(f"num_identity must be in [0, 100], got {self.num_identity}")
        for name in ("identity_prior", "expression_l1", "expression_l2", "robust_scale_cm"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.robust_scale_cm == 0:
            raise ValueError("robust_scale_cm must be > 0")
        if not 0.0 <= self.outline_tangent_weight <= 1.0:
            raise ValueError("outline_tangent_weight must be in [0, 1]")
        if self.iterations < 1 or self.pose_steps < 1 or self.joint_iterations < 0:
            raise ValueError("iterations and pose_steps must be >= 1, joint_iterations >= 0")
        if not 0.0 <= self.selection_threshold < 1.0:
            raise ValueError("selection_threshold must be in [0, 1)")
        for name in ("refit_l1_fraction", "refit_l2_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class FitResult:
    """The fitted parameters and how well they explain the landmarks.

    Attributes:
        identity: (K,) float32 identity coefficients.
        expression: (E,) float32 expression coefficients in [0, 1].
        rotation: (3,) float32 ``(pitch, yaw, roll)`` radians.
        camera: scaled-orthographic camera (px/cm and pixel offset).
        projected: (L, 2) float32 fitted landmark positions in pixels.
        errors_px: (L,) float32 distance between fitted and detected landmarks.
    """

    identity: NDArray[np.float32]
    expression: NDArray[np.float32]
    rotation: NDArray[np.float32]
    camera: OrthoCamera
    projected: NDArray[np.float32]
    errors_px: NDArray[np.float32]


_FLIP = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # model (x, y, z) -> image (u, w) axes
# L1 weight that keeps an unselected shape at 0 in the refit (any gradient the landmarks can
# exert on a coefficient in [0, 1] is orders of magnitude below it).
_HELD_AT_ZERO = 1e9

# The joint fit's unknowns: rotation (3, 3), scale (px/cm), translation (2,) px, identity (K,)
# and expression (E,) coefficients.
_FitState = tuple[
    NDArray[np.float64], float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]
]


def _skew(vectors: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, 3, 3) cross-product matrices ``[v]_×``."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    zero = np.zeros_like(x)
    return np.stack(
        [np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)],
        -2,
    )


def _rodrigues(rotvec: NDArray[np.float64]) -> NDArray[np.float64]:
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-12:
        return np.eye(3)
    axis = rotvec / angle
    k = _skew(axis[None])[0]
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _orthonormal_rows(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """Closest (3, 3) rotation whose first two rows approximate ``rows`` (2, 3)."""
    u, _, vt = np.linalg.svd(rows, full_matrices=False)
    top = u @ vt
    rotation = np.vstack([top, np.cross(top[0], top[1])])
    if np.linalg.det(rotation) < 0:
        rotation[2] *= -1
    return rotation


def _outline_normals(
    points: NDArray[np.float64], outline: NDArray[np.int64]
) -> NDArray[np.float64]:
    """(len(outline), 2) unit normals of the closed outline polygon at its vertices (ordered)."""
    ordered = points[outline]
    tangent = np.roll(ordered, -1, axis=0) - np.roll(ordered, 1, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-12
    return np.stack([-tangent[:, 1], tangent[:, 0]], 1)


@numba.njit(cache=True, nogil=True)
def _box_coordinate_descent(
    quadratic: NDArray[np.float64],
    linear: NDArray[np.float64],
    start: NDArray[np.float64],
    sweeps: int,
    tolerance: float,
) -> NDArray[np.float64]:
    """argmin ½ xᵀQx − bᵀx subject to 0 ≤ x ≤ 1, by exact coordinate descent."""
    x = start.copy()
    gradient = quadratic @ x - linear
    n = x.shape[0]
    for _ in range(sweeps):
        largest = 0.0
        for j in range(n):
            q = quadratic[j, j]
            if q <= 0.0:
                continue
            new = min(max(x[j] - gradient[j] / q, 0.0), 1.0)
            change = new - x[j]
            if change != 0.0:
                for i in range(n):
                    gradient[i] += quadratic[i, j] * change
                x[j] = new
                largest = max(largest, abs(change))
        if largest < tolerance:
            break
    return x


def _reduced_box_qp(
    normal: NDArray[np.float64], moment: NDArray[np.float64], k: int, start: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Minimise xᵀNx − 2mᵀx over x = (c free, ψ in [0, 1]); returns ψ.

    Eliminating c (``c = N_cc⁻¹ (m_c − N_cψ ψ)``) leaves a box QP in ψ.
    """
    if k:
        solve = np.linalg.solve(normal[:k, :k], np.hstack([normal[:k, k:], moment[:k, None]]))
        quadratic = normal[k:, k:] - normal[k:, :k] @ solve[:, :-1]
        linear = moment[k:] - normal[k:, :k] @ solve[:, -1]
    else:
        quadratic, linear = normal, moment
    return _box_coordinate_descent(
        np.ascontiguousarray(quadratic),
        np.ascontiguousarray(linear),
        np.clip(start, 0, 1),
        2000,
        1e-7,
    )


class LandmarkFitter:
    """Holds the basis rows at the landmarks and fits one set of detected landmarks.

    Args:
        model: the ICT model.
        correspondence: the landmark table (L landmarks).
        config: fit settings.
        outline_order: indices of the face-outline landmarks in contour order (sliding contour).
    """

    def __init__(
        self,
        model: FaceModelData,
        correspondence: LandmarkCorrespondence,
        config: FitConfig | None = None,
        outline_order: tuple[int, ...] = (),
    ) -> None:
        self.config = config or FitConfig()
        self.model = model
        self.correspondence = correspondence
        k = self.config.num_identity
        self.mean_points = correspondence.points(model.neutral)  # (L, 3)
        self.identity_rows = correspondence.basis_rows(model.identity_basis[:k])  # (K, L, 3)
        self.expression_rows = correspondence.basis_rows(model.expression_basis)  # (E, L, 3)
        basis = np.concatenate([self.identity_rows, self.expression_rows], 0)  # (N, L, 3)
        self._basis_flat = np.ascontiguousarray(basis.reshape(basis.shape[0], -1))  # (N, L*3)
        self._basis_lcn = np.ascontiguousarray(basis.transpose(1, 2, 0))  # (L, 3, N)
        self.base_weights = correspondence.weights.astype(np.float64)
        self.outline = np.array(outline_order, np.int64)
        self.expression_costs = self._costs(self.config)

    def _costs(self, config: FitConfig) -> NDArray[np.float64]:
        """(E,) the L1 multipliers m_e of ``config.expression_costs`` (1 for unlisted shapes)."""
        costs = np.ones(self.model.num_expressions)
        for name, cost in config.expression_costs.items():
            costs[self.model.expression_index(name)] = cost
        return costs

    def with_config(self, config: FitConfig) -> LandmarkFitter:
        """A fitter sharing this one's basis rows, with other solver settings (same K)."""
        if config.num_identity != self.config.num_identity:
            raise ValueError("with_config cannot change num_identity (the basis rows depend on it)")
        clone = copy.copy(self)
        clone.config = config
        clone.expression_costs = self._costs(config)
        return clone

    def with_fixed_identity(self, identity: NDArray[np.floating]) -> LandmarkFitter:
        """A fitter whose identity is fixed to ``identity`` (K,): it fits pose and expression."""
        k = self.identity_rows.shape[0]
        coeffs = np.asarray(identity, np.float64)
        if coeffs.shape != (k,):
            raise ValueError(f"identity must have shape ({k},), got {coeffs.shape}")
        clone = copy.copy(self)
        clone.mean_points = self.shape_points(coeffs, np.zeros(self.expression_rows.shape[0]))
        clone.identity_rows = self.identity_rows[:0]
        clone._basis_flat = np.ascontiguousarray(self._basis_flat[k:])
        clone._basis_lcn = np.ascontiguousarray(self._basis_lcn[:, :, k:])
        return clone

    def fit_frames(
        self, targets: Sequence[NDArray[np.floating]], *, rounds: int = 2
    ) -> list[FitResult]:
        """Fit several frames of one person with one shared identity.

        Each frame keeps its own pose and expression. Alternates: fit the frames, solve the
        identity that explains all of them (linear, ridge prior once), refit every frame with
        that identity fixed. Expressions that change between frames can then no longer hide
        in the identity, which separates the two better than a single frame can.

        Args:
            targets: F landmark sets (L, 2).
            rounds: identity/frames alternations.

        Returns:
            F results sharing the same ``identity``.
        """
        if len(targets) == 0:
            raise ValueError("fit_frames needs at least one frame")
        points = [np.asarray(t, np.float64) for t in targets]
        fits = [self.fit(p) for p in points]
        if len(points) == 1:
            return fits
        for _ in range(rounds):
            identity = self.shared_identity(points, fits)
            fixed = self.with_fixed_identity(identity)
            fits = [
                dataclasses.replace(fixed.fit(p), identity=identity.astype(np.float32))
                for p in points
            ]
        return fits

    def shared_identity(
        self, points: Sequence[NDArray[np.float64]], fits: Sequence[FitResult]
    ) -> NDArray[np.float64]:
        """Identity (K,) minimising the summed residual of every frame (F landmark sets
        (L, 2)) at its own fitted pose and expression (``fits``; linear, ridge prior once)."""
        k = self.identity_rows.shape[0]
        normal = np.diag(np.full(k, max(self.config.identity_prior, 1e-6)))
        moment = np.zeros(k)
        for target, fit in zip(points, fits, strict=True):
            rotation = euler_to_matrix(*(float(a) for a in fit.rotation))
            camera = _FLIP @ rotation
            offset = np.array([fit.camera.tu, fit.camera.tw])
            base = self.mean_points + np.tensordot(
                fit.expression.astype(np.float64), self.expression_rows, axes=1
            )
            projected = fit.camera.scale * base @ camera.T + offset
            residual_cm = np.linalg.norm(target - projected, axis=1) / fit.camera.scale
            robust = 1.0 / (1.0 + (residual_cm / self.config.robust_scale_cm) ** 2)
            sqrt_w = self._sqrt_weights(target, robust)
            columns = np.matmul(camera, self._basis_lcn[:, :, :k])  # (L, 2, K)
            design = np.matmul(sqrt_w, columns).reshape(-1, k)
            rhs_points = (target - offset) / fit.camera.scale - base @ camera.T
            rhs = np.matmul(sqrt_w, rhs_points[:, :, None]).reshape(-1)
            normal += design.T @ design
            moment += design.T @ rhs
        return np.asarray(np.linalg.solve(normal, moment), np.float64)

    @property
    def num_landmarks(self) -> int:
        return int(self.mean_points.shape[0])

    def shape_points(
        self, identity: NDArray[np.floating], expression: NDArray[np.floating]
    ) -> NDArray[np.float64]:
        """(L, 3) model-space landmark positions for the given coefficients."""
        coeffs = np.concatenate(
            [np.asarray(identity, np.float64), np.asarray(expression, np.float64)]
        )
        return self.mean_points + (coeffs @ self._basis_flat).reshape(-1, 3)

    # -- weights ---------------------------------------------------------------------------

    def _sqrt_weights(
        self, target: NDArray[np.float64], robust: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """(L, 2, 2) square-root weight matrices W_l (sliding contour on the outline)."""
        w = np.sqrt(self.base_weights * robust)
        matrices = np.zeros((self.num_landmarks, 2, 2))
        matrices[:, 0, 0] = 1.0
        matrices[:, 1, 1] = 1.0
        if self.outline.size >= 3 and self.config.outline_tangent_weight < 1.0:
            normals = _outline_normals(target, self.outline)
            tangents = np.stack([normals[:, 1], -normals[:, 0]], 1)
            alpha = math.sqrt(self.config.outline_tangent_weight)
            matrices[self.outline] = np.einsum("ni,nj->nij", normals, normals) + alpha * np.einsum(
                "ni,nj->nij", tangents, tangents
            )
        return matrices * w[:, None, None]

    # -- pose ------------------------------------------------------------------------------

    def _init_pose(
        self, shape: NDArray[np.float64], target: NDArray[np.float64], weights: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], float, NDArray[np.float64]]:
        """Affine camera by weighted least squares, then the closest scaled rotation."""
        sw = np.sqrt(weights)[:, None]
        design = np.hstack([shape, np.ones((shape.shape[0], 1))]) * sw
        affine, *_ = np.linalg.lstsq(design, target * sw, rcond=None)  # (4, 2)
        rows = np.vstack([affine[:3, 0], -affine[:3, 1]])
        scale = float(np.linalg.norm(rows, axis=1).mean())
        rotation = _orthonormal_rows(rows)
        translation = target.mean(0) - scale * (_FLIP @ rotation @ shape.mean(0))
        return rotation, scale, translation

    def _pose_step(
        self,
        shape: NDArray[np.float64],
        target: NDArray[np.float64],
        sqrt_w: NDArray[np.float64],
        rotation: NDArray[np.float64],
        scale: float,
        translation: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], float, NDArray[np.float64]]:
        rotated = shape @ rotation.T  # (L, 3)
        projected = scale * rotated @ _FLIP.T + translation
        residual = target - projected  # (L, 2)
        jac = np.zeros((shape.shape[0], 2, 6))
        # d(Π R X)/dδ for R <- exp([δ]×) R is -Π [R X]×; with Π = diag(1, -1) rows of x, y:
        x, y, z = rotated[:, 0], rotated[:, 1], rotated[:, 2]
        jac[:, 0, 0:3] = scale * np.stack([np.zeros_like(x), z, -y], 1)
        jac[:, 1, 0:3] = scale * np.stack([z, np.zeros_like(x), -x], 1)
        jac[:, 0, 3] = x
        jac[:, 1, 3] = -y
        jac[:, 0, 4] = 1.0
        jac[:, 1, 5] = 1.0
        weighted_jac = np.matmul(sqrt_w, jac).reshape(-1, 6)
        weighted_res = np.matmul(sqrt_w, residual[:, :, None]).reshape(-1)
        normal = weighted_jac.T @ weighted_jac + 1e-6 * np.eye(6)
        delta = np.linalg.solve(normal, weighted_jac.T @ weighted_res)
        rotation = _rodrigues(delta[:3]) @ rotation
        scale = max(scale + float(delta[3]), 1e-6)
        return rotation, scale, translation + delta[4:6]

    # -- shape -----------------------------------------------------------------------------

    def _shape_step(
        self,
        target: NDArray[np.float64],
        sqrt_w: NDArray[np.float64],
        rotation: NDArray[np.float64],
        scale: float,
        translation: NDArray[np.float64],
        warm_start: NDArray[np.float64],
        l1_weights: NDArray[np.float64] | None = None,
        l2_weight: float | None = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Identity (K,) and expression (E,) for a fixed pose (linear; a box QP in ψ)."""
        cfg = self.config
        if l1_weights is None:
            l1_weights = cfg.expression_l1 * self.expression_costs
        if l2_weight is None:
            l2_weight = cfg.expression_l2
        k = self.identity_rows.shape[0]
        num_expr = self.expression_rows.shape[0]
        camera = _FLIP @ rotation  # (2, 3), in cm (residuals divided by the scale)
        columns = np.matmul(camera, self._basis_lcn)  # (L, 2, N)
        design = np.matmul(sqrt_w, columns).reshape(-1, k + num_expr)
        rhs_points = (target - translation) / scale - self.mean_points @ camera.T  # (L, 2)
        rhs = np.matmul(sqrt_w, rhs_points[:, :, None]).reshape(-1)
        prior = np.concatenate(
            [
                np.full(k, math.sqrt(cfg.identity_prior)),
                np.full(num_expr, math.sqrt(l2_weight)),
            ]
        )
        prior = np.maximum(prior, 1e-4)
        # Normal equations with the priors; the identity block is unbounded and eliminated
        # (Schur complement), the expression block is a box-constrained QP with an L1 term.
        normal = design.T @ design
        normal[np.diag_indices_from(normal)] += prior**2
        moment = design.T @ rhs
        moment[k:] -= 0.5 * l1_weights
        expression = _reduced_box_qp(normal, moment, k, warm_start)
        identity = np.linalg.solve(normal[:k, :k], moment[:k] - normal[:k, k:] @ expression)
        return identity, expression

    # -- joint Gauss-Newton ----------------------------------------------------------------

    def _objective(
        self,
        points: NDArray[np.float64],
        sqrt_w: NDArray[np.float64],
        state: _FitState,
        l1_weights: NDArray[np.float64],
        l2_weight: float,
    ) -> float:
        """The objective; ``l1_weights`` (E,) = λ_1 m_e and ``l2_weight`` = λ_2 (or the
        refit's)."""
        cfg = self.config
        rotation, scale, translation, identity, expression = state
        shape = self.shape_points(identity, expression)
        residual = (points - scale * (shape @ rotation.T) @ _FLIP.T - translation) / scale
        weighted = np.matmul(sqrt_w, residual[:, :, None])
        return float(
            (weighted**2).sum()
            + cfg.identity_prior * (identity**2).sum()
            + l2_weight * (expression**2).sum()
            + float(l1_weights @ expression)
        )

    def _joint_step(
        self,
        points: NDArray[np.float64],
        sqrt_w: NDArray[np.float64],
        state: _FitState,
        damping: float,
        l1_weights: NDArray[np.float64],
        l2_weight: float,
    ) -> _FitState:
        """One damped Gauss-Newton step on every parameter at once (residuals in cm).

        Unknowns: rotation increment δ (R <- exp([δ]×) R), log-scale increment, translation
        increment in cm, and the new identity and expression coefficients (absolute, so the
        priors and the [0, 1] box apply to them directly).
        """
        cfg = self.config
        rotation, scale, translation, identity, expression = state
        k = identity.shape[0]
        shape = self.shape_points(identity, expression)
        rotated = shape @ rotation.T
        residual = (points - scale * rotated @ _FLIP.T - translation) / scale  # (L, 2) cm
        n_pose = 6
        jac = np.empty((shape.shape[0], 2, n_pose + self._basis_lcn.shape[2]))
        x, y, z = rotated[:, 0], rotated[:, 1], rotated[:, 2]
        zero = np.zeros_like(x)
        jac[:, 0, 0:3] = np.stack([zero, z, -y], 1)
        jac[:, 1, 0:3] = np.stack([z, zero, -x], 1)
        jac[:, 0, 3] = x
        jac[:, 1, 3] = -y
        jac[:, :, 4:6] = np.eye(2)
        jac[:, :, n_pose:] = np.matmul(_FLIP @ rotation, self._basis_lcn)
        coeffs = np.concatenate([identity, expression])
        # Unknowns are the new coefficients: move their current contribution to the rhs.
        rhs_points = residual + np.matmul(jac[:, :, n_pose:], coeffs)
        weighted_jac = np.matmul(sqrt_w, jac).reshape(-1, jac.shape[2])
        weighted_rhs = np.matmul(sqrt_w, rhs_points[:, :, None]).reshape(-1)
        normal = weighted_jac.T @ weighted_jac
        moment = weighted_jac.T @ weighted_rhs
        diag = np.diag_indices_from(normal)
        regular = np.concatenate(
            [
                np.full(n_pose, damping),
                np.full(k, cfg.identity_prior),
                np.full(len(expression), l2_weight),
            ]
        )
        normal[diag] += np.maximum(regular, 1e-8)
        moment[n_pose + k :] -= 0.5 * l1_weights
        new_expression = _reduced_box_qp(normal, moment, n_pose + k, expression)
        free = np.linalg.solve(
            normal[: n_pose + k, : n_pose + k],
            moment[: n_pose + k] - normal[: n_pose + k, n_pose + k :] @ new_expression,
        )
        new_rotation = _rodrigues(free[0:3]) @ rotation
        new_scale = scale * math.exp(float(np.clip(free[3], -0.5, 0.5)))
        new_translation = translation + scale * free[4:6]
        return new_rotation, new_scale, new_translation, free[n_pose:], new_expression

    # -- the fit ---------------------------------------------------------------------------

    def _joint_solve(
        self,
        points: NDArray[np.float64],
        state: _FitState,
        robust: NDArray[np.float64],
        l1_weights: NDArray[np.float64],
        l2_weight: float,
    ) -> tuple[_FitState, NDArray[np.float64]]:
        """Damped joint Gauss-Newton steps from ``state``; returns it and the robust weights."""
        cfg = self.config
        damping = 1e-2
        for _ in range(cfg.joint_iterations):
            sqrt_w = self._sqrt_weights(points, robust)
            current = self._objective(points, sqrt_w, state, l1_weights, l2_weight)
            improvement = 0.0
            for _ in range(4):
                candidate = self._joint_step(points, sqrt_w, state, damping, l1_weights,
                                             l2_weight)  # fmt: skip
                value = self._objective(points, sqrt_w, candidate, l1_weights, l2_weight)
                if value <= current:
                    state = candidate
                    improvement = (current - value) / max(current, 1e-12)
                    damping = max(damping * 0.3, 1e-4)
                    break
                damping *= 10.0
            rotation, scale, translation, identity, expression = state
            shape = self.shape_points(identity, expression)
            projected = scale * (shape @ rotation.T) @ _FLIP.T + translation
            residual_cm = np.linalg.norm(points - projected, axis=1) / scale
            robust = 1.0 / (1.0 + (residual_cm / cfg.robust_scale_cm) ** 2)
            if improvement < cfg.tolerance:
                break
        return state, robust

    def project(
        self,
        identity: NDArray[np.floating],
        expression: NDArray[np.floating],
        rotation: NDArray[np.float64],
        camera: OrthoCamera,
    ) -> NDArray[np.float64]:
        """(L, 2) landmark pixels for the given parameters."""
        shape = self.shape_points(identity, expression)
        return camera.scale * (shape @ rotation.T) @ _FLIP.T + np.array([camera.tu, camera.tw])

    def _result(
        self,
        points: NDArray[np.float64],
        state: _FitState,
    ) -> FitResult:
        rotation, scale, translation, identity, expression = state
        shape = self.shape_points(identity, expression)
        projected = scale * (shape @ rotation.T) @ _FLIP.T + translation
        errors = np.linalg.norm(projected - points, axis=1)
        camera = OrthoCamera(scale=float(scale), tu=float(translation[0]), tw=float(translation[1]))
        return FitResult(
            identity=identity.astype(np.float32),
            expression=expression.astype(np.float32),
            rotation=np.array(matrix_to_euler(rotation), np.float32),
            camera=camera,
            projected=projected.astype(np.float32),
            errors_px=errors.astype(np.float32),
        )

    def _checked_target(self, target: NDArray[np.floating]) -> NDArray[np.float64]:
        points = np.asarray(target, np.float64)
        if points.shape != (self.num_landmarks, 2) or not np.all(np.isfinite(points)):
            raise ValueError(f"expected finite landmarks of shape ({self.num_landmarks}, 2)")
        return points

    def _robust(self, points: NDArray[np.float64], state: _FitState) -> NDArray[np.float64]:
        rotation, scale, translation, identity, expression = state
        shape = self.shape_points(identity, expression)
        projected = scale * (shape @ rotation.T) @ _FLIP.T + translation
        residual_cm = np.linalg.norm(points - projected, axis=1) / scale
        return np.asarray(1.0 / (1.0 + (residual_cm / self.config.robust_scale_cm) ** 2))

    def fit_at_pose(
        self,
        target: NDArray[np.floating],
        rotation: NDArray[np.floating],
        camera: OrthoCamera,
    ) -> FitResult:
        """Identity and expression for a given head pose (the pose is not changed).

        The shape problem is linear for a fixed pose: ``iterations`` robust reweightings of
        the box QP, then the refit of the selected shapes when ``config.refit_selected``.
        ``facecast fit-sequence`` uses it with a pose smoothed over time, so that a frame's
        pose cannot take up part of its expression (a brow raise read as a head pitch).

        Args:
            target: (L, 2) landmark pixels.
            rotation: (3,) ``(pitch, yaw, roll)`` radians.
            camera: the scaled-orthographic camera of the frame.
        """
        cfg = self.config
        points = self._checked_target(target)
        matrix = euler_to_matrix(*(float(a) for a in np.asarray(rotation, np.float64)))
        scale, translation = float(camera.scale), np.array([camera.tu, camera.tw], np.float64)
        identity = np.zeros(self.identity_rows.shape[0])
        expression = np.zeros(self.expression_rows.shape[0])
        robust = np.ones(self.num_landmarks)
        l1_weights = cfg.expression_l1 * self.expression_costs

        def solve(
            weights: NDArray[np.float64],
            ridge: float,
            start: NDArray[np.float64],
            robust: NDArray[np.float64],
        ) -> tuple[_FitState, NDArray[np.float64]]:
            state: _FitState = (matrix, scale, translation, identity, start)
            for _ in range(cfg.iterations):
                sqrt_w = self._sqrt_weights(points, robust)
                shape_id, shape_ex = self._shape_step(
                    points, sqrt_w, matrix, scale, translation, state[4], weights, ridge
                )
                state = (matrix, scale, translation, shape_id, shape_ex)
                robust = self._robust(points, state)
            return state, robust

        state, robust = solve(l1_weights, cfg.expression_l2, expression, robust)
        if cfg.refit_selected:
            selected = state[4] > cfg.selection_threshold
            weights = np.where(selected, cfg.refit_l1_fraction * l1_weights, _HELD_AT_ZERO)
            state, robust = solve(weights, cfg.refit_l2_fraction * cfg.expression_l2,
                                  np.where(selected, state[4], 0.0), robust)  # fmt: skip
        return self._result(points, state)

    def fit_pose(
        self,
        target: NDArray[np.floating],
        identity: NDArray[np.floating],
        expression: NDArray[np.floating],
        rotation: NDArray[np.floating],
        camera: OrthoCamera,
    ) -> FitResult:
        """The head pose (rotation, scale, offset) for a given shape, from a starting pose.

        Args:
            target: (L, 2) landmark pixels.
            identity: (K,) coefficients of this fitter's identity modes (K = 0 for a
                fitter from :meth:`with_fixed_identity`) and expression: (E,) (not changed).
            rotation: (3,) starting ``(pitch, yaw, roll)`` radians; camera: starting camera.
        """
        cfg = self.config
        points = self._checked_target(target)
        ident = np.asarray(identity, np.float64)
        expr = np.asarray(expression, np.float64)
        shapes = ((self.identity_rows.shape[0],), (self.expression_rows.shape[0],))
        if (ident.shape, expr.shape) != shapes:
            raise ValueError(f"identity and expression must have shapes {shapes}, got "
                             f"{ident.shape} and {expr.shape}")  # fmt: skip
        shape = self.shape_points(ident, expr)
        matrix = euler_to_matrix(*(float(a) for a in np.asarray(rotation, np.float64)))
        scale, translation = float(camera.scale), np.array([camera.tu, camera.tw], np.float64)
        robust = np.ones(self.num_landmarks)
        for _ in range(cfg.iterations):
            sqrt_w = self._sqrt_weights(points, robust)
            for _ in range(cfg.pose_steps):
                matrix, scale, translation = self._pose_step(
                    shape, points, sqrt_w, matrix, scale, translation
                )
            robust = self._robust(points, (matrix, scale, translation, ident, expr))
        return self._result(points, (matrix, scale, translation, ident, expr))

    def fit(self, target: NDArray[np.floating]) -> FitResult:
        """Fit the model to detected landmarks.

        Args:
            target: (L, 2) landmark pixels ``(u, w)``.

        Returns:
            The fitted parameters and per-landmark errors.
        """
        cfg = self.config
        points = np.asarray(target, np.float64)
        if points.shape != (self.num_landmarks, 2) or not np.all(np.isfinite(points)):
            raise ValueError(f"expected finite landmarks of shape ({self.num_landmarks}, 2)")
        identity = np.zeros(self.identity_rows.shape[0])
        expression = np.zeros(self.expression_rows.shape[0])
        shape = self.mean_points
        rotation, scale, translation = self._init_pose(shape, points, self.base_weights)
        robust = np.ones(self.num_landmarks)
        for _ in range(cfg.iterations):
            sqrt_w = self._sqrt_weights(points, robust)
            for _ in range(cfg.pose_steps):
                rotation, scale, translation = self._pose_step(
                    shape, points, sqrt_w, rotation, scale, translation
                )
            identity, expression = self._shape_step(
                points, sqrt_w, rotation, scale, translation, expression
            )
            shape = self.shape_points(identity, expression)
            projected = scale * (shape @ rotation.T) @ _FLIP.T + translation
            residual_cm = np.linalg.norm(points - projected, axis=1) / scale
            robust = 1.0 / (1.0 + (residual_cm / cfg.robust_scale_cm) ** 2)
        state = (rotation, scale, translation, identity, expression)
        l1_weights = cfg.expression_l1 * self.expression_costs
        state, robust = self._joint_solve(points, state, robust, l1_weights, cfg.expression_l2)
        if cfg.refit_selected:
            selected = state[4] > cfg.selection_threshold
            refit_weights = np.where(selected, cfg.refit_l1_fraction * l1_weights, _HELD_AT_ZERO)
            held = (*state[:4], np.where(selected, state[4], 0.0))
            refit_ridge = cfg.refit_l2_fraction * cfg.expression_l2
            state, robust = self._joint_solve(points, held, robust, refit_weights, refit_ridge)
        return self._result(points, state)
