"""Typed settings, parsed once from the environment at start-up; a bad value stops the process naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "model" / "model.json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", frozen=True)

    model_path: Path = Field(
        default=DEFAULT_MODEL_PATH,
        description="MODEL_PATH: the model artifact (JSON) to serve; default: the one shipped in the image",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="LOG_LEVEL: threshold of the JSON logs on stdout"
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1_024,
        le=6_291_456,
        description="MAX_BODY_BYTES: larger request bodies get 413 (Lambda's own payload limit is 6 MB)",
    )
    service_name: str = Field(default="retail-api", min_length=1, description="SERVICE_NAME: `service` in logs")
    opentelemetry: bool = Field(
        default=False,
        description="OPENTELEMETRY: FastAPI's native OpenTelemetry spans, metrics and logs. Off by default: without "
        "a configured provider they record nothing, yet the check for one runs on every request",
    )
