"""Request and response models of the ``/v1/library`` routes (the OpenAPI schema clients and
schemathesis check against). Ids are the library's integers (clusters, faces, photos); photo
paths are relative to the server's library root (else a file name): never a server path."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from faceprint.service.schemas import ErrorDetail

#: the largest id accepted (SQLite integers are 64-bit)
MAX_ID = 1 << 62
IdInt = Annotated[int, Field(ge=1, le=MAX_ID)]


class ClusterOut(BaseModel):
    id: int
    name: str | None = Field(description="the person's name; null for a cluster nobody has named yet")
    faces: int
    photos: int
    cover_face: int | None = Field(description="the id of its best face (largest, sharpest)")
    thumbnail: str | None = Field(description="URL of the cover face's JPEG thumbnail")


class ClusterPage(BaseModel):
    items: list[ClusterOut]
    total: int
    offset: int
    limit: int = Field(description="the page size used (requests above the maximum are clamped)")


class LibraryFaceOut(BaseModel):
    id: int
    photo_id: int
    photo: str | None = Field(description="the photo's path relative to the library root (else its file name)")
    box: list[float] = Field(description="[x1, y1, x2, y2] in pixels of the photo")
    score: float
    face_px: float
    blur: float
    pinned: bool = Field(description="placed by the user (naming, merging, splitting): clustering keeps it")
    thumbnail: str


class FacePage(BaseModel):
    cluster: ClusterOut
    faces: list[LibraryFaceOut]
    total: int
    offset: int
    limit: int


class LibraryPhotoOut(BaseModel):
    photo_id: int
    paths: list[str] = Field(description="its files, relative to the library root (else file names)")
    face_ids: list[int] = Field(description="this person's faces in it")
    width: int
    height: int
    image: str = Field(description="URL of a JPEG preview")


class PhotoPage(BaseModel):
    cluster: ClusterOut
    photos: list[LibraryPhotoOut]
    total: int
    offset: int
    limit: int


class IndexProgress(BaseModel):
    files: int = Field(description="files handled so far (skipped unchanged ones included)")
    total: int | None = Field(None, description="files found by the walk")
    eta_s: float | None = None


class IndexJob(BaseModel):
    status: Literal["idle", "queued", "running", "done", "failed"]
    folder: str | None = Field(None, description="the folder indexed, relative to the library root")
    progress: IndexProgress
    report: dict[str, object] | None = Field(None, description="the run's counts (faceprint.library.IndexReport)")
    error: ErrorDetail | None = None


class LibrarySummary(BaseModel):
    enabled: bool = Field(description="false: this server serves no library (faceprint serve --library FILE)")
    photos: int = 0
    faces: int = 0
    clusters: int = Field(0, description="clusters nobody has named yet")
    people: int = Field(0, description="named people")
    model: str | None = None
    can_index: bool = Field(False, description="a library root is configured: POST /v1/library/index works")
    indexing: IndexJob | None = None


class NameRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="the person's name (the gallery's rules)")


class MergeRequest(BaseModel):
    target: IdInt
    others: list[IdInt] = Field(min_length=1, max_length=100, description="clusters merged into target")


class SplitRequest(BaseModel):
    faces: list[IdInt] = Field(min_length=1, max_length=1000, description="face ids, all of one cluster")
    name: str | None = Field(None, min_length=1, max_length=200, description="name the new cluster")


class IndexRequest(BaseModel):
    folder: str = Field("", max_length=4096, description="a folder under the library root, relative ('' = all of it)")
