"""Training data (Contract 3): deterministic, mixable, seekable; see loader.py for the design."""

from train.data.batches import IGNORE_INDEX, Batch
from train.data.datasets import DataInfo, Dataset, data_info
from train.data.loader import TrainData, build_train_data, build_val_batches

__all__ = ["IGNORE_INDEX", "Batch", "DataInfo", "Dataset", "TrainData", "build_train_data", "build_val_batches",
           "data_info"]
