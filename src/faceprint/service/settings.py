"""Service settings, from keyword arguments, ``FACEPRINT_*`` environment variables or ``faceprint
serve`` flags (flags win over the environment, the environment over the defaults).

Security-relevant defaults: authentication is required whenever the service binds beyond
loopback (``auth="auto"``), CORS is off (no origin allowed), uploads are capped at
``max_upload_mb`` and decoded images at ``max_pixels``, every request has a time limit.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from faceprint.config import DEFAULT_EXPRESSION_MODEL, DEFAULT_MAX_PIXELS

AuthMode = Literal["auto", "on", "off"]


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, ``localhost``)."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from outside


class ServiceSettings(BaseSettings):
    """Everything ``create_app`` needs. Environment variables: ``FACEPRINT_<FIELD>`` (upper case),
    e.g. ``FACEPRINT_PORT=9000``, ``FACEPRINT_ADMIN_KEY=...``, ``FACEPRINT_CORS_ORIGINS='["https://a.example"]'``."""

    model_config = SettingsConfigDict(env_prefix="FACEPRINT_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    home: Path | None = Field(None, description="gallery/key directory (default: FACEPRINT_HOME or the user data dir)")
    store: str | None = Field(None, description="gallery store URL (e.g. postgresql://...); default SQLite in home")
    auth: AuthMode = Field("auto", description="auto: required unless bound to loopback")
    admin_key: str | None = Field(None, description="a key with admin scope given by the operator (never stored)")
    max_upload_mb: float = Field(10.0, gt=0, description="largest request body accepted")
    max_video_mb: float = Field(500.0, gt=0, description="largest video upload (POST /v1/video) accepted")
    video_body_timeout_s: float = Field(600.0, gt=0, description="time a client gets to send a whole video upload")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0, description="largest decoded image (width*height)")
    max_images: int = Field(20, ge=1, description="most images in one enroll request")
    request_timeout_s: float = Field(30.0, gt=0)
    workers: int = Field(2, ge=1, le=64, description="threads doing CPU work (detection, embedding)")
    max_queue: int = Field(64, ge=1, description="requests waiting for a worker before 503 busy")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS (empty: CORS off)")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host names served besides localhost and the bound host (IP literals are always served)",
    )
    body_timeout_s: float = Field(10.0, gt=0, description="time a client gets to send the whole request body (408 after)")
    max_connections: int = Field(256, ge=1, description="open connections at once; beyond it uvicorn answers 503")
    warmup: bool = Field(True, description="run one image through every model at start-up")
    preset: str = Field("default", description="named pipeline (faceprint.pipeline.PRESETS) unless one is injected")
    analyzer: str | None = Field(DEFAULT_EXPRESSION_MODEL, description="expression model for /v1/analyze (None: off)")
    min_quality: float | None = Field(
        None, ge=0.0, le=1.0, description="enrolment quality floor (0: off; None: faceprint.config.DEFAULT_MIN_QUALITY)"
    )
    shutdown_grace_s: float = Field(20.0, ge=0, description="SIGTERM: time in-flight requests get to finish")
    library: Path | None = Field(None, description="photo library file served under /v1/library (None: off)")
    library_root: Path | None = Field(
        None, description="folder POST /v1/library/index may index (clients name sub-folders of it only; None: off)"
    )

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        from faceprint.pipeline import PRESETS

        if v not in PRESETS:
            raise ValueError(f"preset: unknown preset {v!r}; choose one of {', '.join(sorted(PRESETS))}")
        return v

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, v: list[str]) -> list[str]:
        if "*" in v:
            raise ValueError("cors_origins: '*' is refused; list the origins that may call the API")
        return v

    @model_validator(mode="after")
    def _root_needs_library(self) -> ServiceSettings:
        if self.library_root is not None and self.library is None:
            raise ValueError("library_root: also give the library file it is indexed into (library / --library)")
        return self

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_video_bytes(self) -> int:
        return int(self.max_video_mb * 1024 * 1024)

    @property
    def auth_required(self) -> bool:
        if self.auth == "on":
            return True
        if self.auth == "off":
            return False
        return not is_loopback(self.host)
