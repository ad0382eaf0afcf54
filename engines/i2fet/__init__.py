"""I2FET: instruction text → ordered expression anchors (IFED + CVAE), NED, evaluation."""

from engines.i2fet.checkpoint import (
    CHECKPOINT_DIR,
    load_classifier,
    load_i2fet,
    load_ned,
    save_checkpoint,
)
from engines.i2fet.classifier import ExpressionClassifier
from engines.i2fet.config import ClassifierConfig, I2FETConfig, NEDConfig, TrainConfig
from engines.i2fet.exceptions import (
    CheckpointError,
    I2FETError,
    InstructionError,
    InstructionNotUnderstoodError,
    TrainingDataError,
)
from engines.i2fet.model import I2FET, I2FETOutput, PooledBaseline, build_model
from engines.i2fet.ned import NED
from engines.i2fet.planner import (
    EXAMPLE_INSTRUCTIONS,
    Anchor,
    InstructionPlanner,
    Plan,
    PlannerConfig,
)

__all__ = [
    "CHECKPOINT_DIR",
    "EXAMPLE_INSTRUCTIONS",
    "I2FET",
    "NED",
    "Anchor",
    "CheckpointError",
    "ClassifierConfig",
    "ExpressionClassifier",
    "I2FETConfig",
    "I2FETError",
    "I2FETOutput",
    "InstructionError",
    "InstructionNotUnderstoodError",
    "InstructionPlanner",
    "NEDConfig",
    "Plan",
    "PlannerConfig",
    "PooledBaseline",
    "TrainConfig",
    "TrainingDataError",
    "build_model",
    "load_classifier",
    "load_i2fet",
    "load_ned",
    "save_checkpoint",
]
