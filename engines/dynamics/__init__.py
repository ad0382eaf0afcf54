"""Dynamic 4D expressions (Potamias et al. 2020): motion labels -> LSTM -> spiral-convolution
mesh decoder on the ICT face, and its use as the ``learned`` dynamics of timelines.

Runtime parts only; the corpus, training and evaluation are in ``engines.dynamics.research``
(the server never imports it).
"""

from engines.dynamics.checkpoint import (
    CHECKPOINT_DIR,
    default_checkpoint,
    load_dynamics,
    read_config,
    save_dynamics,
)
from engines.dynamics.config import DynamicsModelConfig, GeneratorConfig, HierarchyConfig
from engines.dynamics.decimate import Decimation, decimate
from engines.dynamics.exceptions import (
    CheckpointError,
    DynamicsError,
    HierarchyError,
    MotionLabelError,
)
from engines.dynamics.generator import LearnedCurve, LearnedDynamics
from engines.dynamics.hierarchy import MeshHierarchy, build_hierarchy, load_hierarchy
from engines.dynamics.labels import (
    MOTION_LABELS,
    PhaseTimes,
    label_references,
    mean_displacement,
    motion_labels,
    phase_amplitude,
)
from engines.dynamics.model import (
    DynamicsModel,
    MotionEncoder,
    PCADecoder,
    SpiralDecoder,
    build_model,
)
from engines.dynamics.projection import RegionBasis
from engines.dynamics.spirals import spiral_indices

__all__ = [
    "CHECKPOINT_DIR",
    "MOTION_LABELS",
    "CheckpointError",
    "Decimation",
    "DynamicsError",
    "DynamicsModel",
    "DynamicsModelConfig",
    "GeneratorConfig",
    "HierarchyConfig",
    "HierarchyError",
    "LearnedCurve",
    "LearnedDynamics",
    "MeshHierarchy",
    "MotionEncoder",
    "MotionLabelError",
    "PCADecoder",
    "PhaseTimes",
    "RegionBasis",
    "SpiralDecoder",
    "build_hierarchy",
    "build_model",
    "decimate",
    "default_checkpoint",
    "label_references",
    "load_dynamics",
    "load_hierarchy",
    "mean_displacement",
    "motion_labels",
    "phase_amplitude",
    "read_config",
    "save_dynamics",
    "spiral_indices",
]
