"""Training: SFT conversations (:mod:`~cascadener.training.sft`), tiny from-scratch models
(:mod:`~cascadener.training.tiny`), Trainer fine-tuning (:mod:`~cascadener.training.trainer`) and
model folders on disk (:mod:`~cascadener.training.model_files`).

The trainer's public names are importable from here too (``from cascadener.training import
train_cascade``); nothing here imports torch until a model is built or trained.
"""

from cascadener.training.trainer import (
    MEMORISE,
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

__all__ = ["MEMORISE", "BaseModelError", "CascadeTrainResult", "ResumeError", "TrainingDataError", "TrainOptions",
           "TrainResult", "save_model", "train", "train_cascade", "train_conversations"]
