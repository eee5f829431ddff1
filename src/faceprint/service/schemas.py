"""Response models (they are the OpenAPI schema clients and schemathesis check against).
Coordinates are pixels of the uploaded image after EXIF orientation, boxes ``[x1, y1, x2, y2]``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable error code, e.g. no_face, invalid_image, unauthorized")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ImageSize(BaseModel):
    width: int
    height: int


class LandmarksOut(BaseModel):
    scheme: str
    points: list[list[float]]


class FaceOut(BaseModel):
    box: list[float] = Field(description="[x1, y1, x2, y2] in pixels")
    score: float = Field(description="detector confidence (detector-specific scale)")
    detector: str
    landmarks: LandmarksOut | None = None


class DetectResponse(BaseModel):
    image: ImageSize
    faces: list[FaceOut]


class EmbeddedFace(BaseModel):
    box: list[float]
    score: float
    model: str
    embedding: list[float] = Field(description="unit-norm descriptor")


class EmbedResponse(BaseModel):
    image: ImageSize
    faces: list[EmbeddedFace]


class VerifyResponse(BaseModel):
    score: float = Field(description="cosine similarity of the two faces")
    is_match: bool
    threshold: float
    threshold_source: str
    model: str
    far_estimate: float | None = Field(None, description="false-match rate the calibration data shows at this score")
    box_a: list[float]
    box_b: list[float]


class CandidateOut(BaseModel):
    identity: str
    score: float
    face_id: int


class IdentifiedFaceOut(BaseModel):
    box: list[float] | None
    detection_score: float | None = None
    identity: str | None = Field(description="best candidate when its score reaches the threshold, else null (unknown)")
    unknown: bool
    score: float | None
    threshold: float
    threshold_source: str
    far_estimate: float | None = Field(None, description="per-comparison false-match rate at the best score")
    fpir_estimate: float | None = Field(
        None, description="false-positive identification rate of this gallery at the best score (open-set model)"
    )
    candidates: list[CandidateOut]


class IdentifyResponse(BaseModel):
    image: ImageSize
    faces: list[IdentifiedFaceOut]


class EnrollImageOut(BaseModel):
    name: str
    source: str
    status: str = Field(description="enrolled or duplicate")
    face_id: int | None
    box: list[float] | None = None


class EnrollResponse(BaseModel):
    name: str
    enrolled: int
    duplicates: int
    images: list[EnrollImageOut]


class IdentityOut(BaseModel):
    id: int
    name: str
    metadata: dict[str, Any]
    created: float
    n_faces: int


class IdentityList(BaseModel):
    identities: list[IdentityOut]
    model: str | None = None
    n_faces: int


class FaceRecordOut(BaseModel):
    id: int
    model: str
    sha256: str
    box: list[float] | None
    quality: float | None
    created: float


class IdentityDetail(BaseModel):
    identity: IdentityOut
    faces: list[FaceRecordOut]


class DeleteResponse(BaseModel):
    deleted: str
    faces_removed: int


class ExpressionOut(BaseModel):
    label: str
    probabilities: dict[str, float]


class AgeOut(BaseModel):
    years: float = Field(description="estimated apparent age")


class GenderOut(BaseModel):
    label: str = Field(description="the more likely of female, male (an estimate, not a fact about the person)")
    score: float = Field(description="probability of label")
    female: float = Field(description="estimated probability of female")


class LivenessOut(BaseModel):
    live: bool = Field(description="both scores reach the threshold")
    score: float = Field(description="the smaller of real_score and live_score")
    real_score: float
    live_score: float
    threshold: float


class QualityOut(BaseModel):
    score: float = Field(description="face-image quality in [0, 1] (low: likely to be missed by recognition)")
    signals: dict[str, float]


class RaceOut(BaseModel):
    label: str
    probabilities: dict[str, float]
    purpose: str = Field(description="always 'bias audit': only with include_race=true")


class AnalyzedFaceOut(BaseModel):
    box: list[float]
    score: float
    expression: ExpressionOut | None = None
    age: AgeOut | None = None
    gender: GenderOut | None = None
    liveness: LivenessOut | None = None
    quality: QualityOut | None = None
    race: RaceOut | None = None
    identity: IdentifiedFaceOut | None = None


class AnalyzeResponse(BaseModel):
    image: ImageSize
    faces: list[AnalyzedFaceOut]
    models: dict[str, str] | None = Field(None, description="task -> model used")


class KeyOut(BaseModel):
    id: str
    scope: str
    label: str
    created: float
    revoked: float | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="the secret: shown once, store it now")


class KeyList(BaseModel):
    keys: list[KeyOut]


class KeyCreate(BaseModel):
    scope: str = Field("read", pattern="^(read|write|admin)$")
    label: str = Field("", max_length=200)


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    models: dict[str, str]
    gallery: dict[str, Any]


class VideoJobAccepted(BaseModel):
    job: str = Field(description="the job id: poll GET /v1/video/{job}")
    status: str = Field(description="queued")
    url: str


class VideoProgress(BaseModel):
    frames: int = Field(description="frames read so far")
    total: int | None = Field(None, description="the container's frame count, when it has one")
    eta_s: float | None = Field(None, description="seconds left at the rate so far")


class VideoJob(BaseModel):
    job: str
    status: Literal["queued", "running", "done", "failed"]
    progress: VideoProgress
    result: dict[str, Any] | None = Field(
        None,
        description="when done (or failed part way): the video, its frame count and the tracks "
        "(id, identity or null, first/last time, best frame, score): faceprint.video.VideoResult.to_dict",
    )
    error: ErrorDetail | None = Field(None, description="why the job failed; results up to the failure are kept")
