"""Torch building blocks shared by the neural backends: MLPs and mixed-type tabular I/O."""

from synthkit.nn.conditions import ConditionEncoder, Conditions
from synthkit.nn.heads import MixedHead
from synthkit.nn.mlp import MLP, ResidualMLP
from synthkit.nn.tabular import TableVectorizer

__all__ = ["MLP", "ConditionEncoder", "Conditions", "MixedHead", "ResidualMLP", "TableVectorizer"]
