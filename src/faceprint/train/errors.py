"""Training-specific exceptions (all :class:`~faceprint.errors.FaceprintError`)."""

from __future__ import annotations

from faceprint.errors import FaceprintError


class TrainingDiverged(FaceprintError):
    """The loss (or the gradient norm) stopped being finite: training was stopped.

    Attributes ``step``, ``epoch``, ``value`` and ``lr`` say where and how it happened.
    """

    code = "training_diverged"

    def __init__(self, message: str, *, step: int, epoch: int, value: float, lr: float) -> None:
        self.step, self.epoch, self.value, self.lr = step, epoch, value, lr
        super().__init__(message)
