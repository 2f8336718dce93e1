"""Training machinery shared by the neural backends (imports torch: load it lazily)."""

from synthkit.training.distributed import dist_info, is_main_process
from synthkit.training.trainer import Objective, Trainer, TrainResult, seeded

__all__ = ["Objective", "TrainResult", "Trainer", "dist_info", "is_main_process", "seeded"]
