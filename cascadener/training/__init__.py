"""Training: SFT conversations (:mod:`~cascadener.training.sft`), tiny from-scratch models
(:mod:`~cascadener.training.tiny`), Trainer fine-tuning (:mod:`~cascadener.training.trainer`), its
recipes by starting point (:mod:`~cascadener.training.recipes`) and model folders on disk
(:mod:`~cascadener.training.model_files`).

The trainer's public names are importable from here too (``from cascadener.training import
train_cascade``); nothing here imports torch until a model is built or trained.
"""

from cascadener.training.recipes import BASE, MEMORISE, TINY, Recipe, recipe
from cascadener.training.trainer import (
    BaseModelError,
    CascadeTrainResult,
    ResumeError,
    TrainingDataError,
    TrainOptions,
    TrainResult,
    save_model,
    train,
    train_cascade,
    train_conversations,
)

__all__ = ["BASE", "MEMORISE", "TINY", "Recipe", "recipe", "BaseModelError", "CascadeTrainResult", "ResumeError",
           "TrainingDataError", "TrainOptions", "TrainResult", "save_model", "train", "train_cascade",
           "train_conversations"]
