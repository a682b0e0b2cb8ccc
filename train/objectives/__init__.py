"""Pretraining objectives: causal LM, fill-in-the-middle, masked LM (conf/objective/*.yaml).

Each one turns the loader's packed rows into (inputs, targets) and says which attention the model uses;
``train.infill`` writes middles with a FIM-trained checkpoint.
"""

from train.objectives.config import ObjectiveConfig, ObjectiveName, validate_objective
from train.objectives.objective import Objective, Rows, build_objective, special_ids

__all__ = ["Objective", "ObjectiveConfig", "ObjectiveName", "Rows", "build_objective", "special_ids",
           "validate_objective"]
