"""Model cards: everything needed to use a model correctly, stated rather than guessed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Task = Literal["detector", "landmarker", "embedder", "analyzer"]


@dataclass(frozen=True, slots=True)
class WeightSource:
    """Where a model's weights come from: a file inside an installed package, or a user file."""

    package: str | None  # importable package name (located, never imported), None for a user path
    path: str  # path inside the package, or an absolute user path
    pip_name: str | None = None  # the distribution to install when it is missing
    sha256: str | None = None  # of the source file as shipped
    npm: str | None = None  # "name@version" when ``path`` lies in an npm package unpacked at set-up


@dataclass(frozen=True, slots=True)
class ModelCard:
    """A registered model's facts.

    Attributes:
        name: registry name (``faceprint models`` lists them).
        task: what the model does; code never infers this from tensor shapes.
        version: changes whenever outputs change (embeddings carry ``name@version``).
        source: the weight file.
        input_size: ``(width, height)`` of the network input in pixels.
        mean, std: per-channel normalisation ``(x - mean) / std`` in the model's colour order,
            on the 0–255 pixel scale.
        color_order: ``"RGB"``, ``"BGR"`` or ``"GRAY"``.
        license: the weights' licence, as their authors state it.
        embedding_dim: output size (embedders).
        template: name of the alignment template (embedders; see :mod:`faceprint.align.templates`).
        landmark_scheme: landmarks produced (detectors/landmarkers).
        default_threshold: default decision threshold on the model's score (embedders: cosine
            similarity), or None when the model has not been calibrated.
        threshold_provenance: how ``default_threshold`` was obtained (data, target, command).
        labels: class labels in output order (analyzers).
        notes: anything else a user must know.
    """

    name: str
    task: Task
    version: str
    source: WeightSource
    license: str
    input_size: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    color_order: str = "RGB"
    embedding_dim: int | None = None
    template: str | None = None
    landmark_scheme: str | None = None
    default_threshold: float | None = None
    threshold_provenance: str | None = None
    labels: tuple[str, ...] | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        """``name@version``: the model tag stored with every embedding."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
