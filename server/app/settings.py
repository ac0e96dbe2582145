"""Typed settings, parsed once from the environment at start-up; a bad value stops the process naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
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
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="BODY_TIMEOUT_SECONDS: a request body that has not fully arrived this long after the request's "
        "headers gets 408 and the connection is closed (a stalled upload does not hold the server)",
    )
    service_name: str = Field(default="retail-api", min_length=1, description="SERVICE_NAME: `service` in logs")
    opentelemetry: bool = Field(
        default=False,
        description="OPENTELEMETRY: FastAPI's native OpenTelemetry spans, metrics and logs. Off by default: without "
        "a configured provider they record nothing, yet the check for one runs on every request",
    )


class SettingsError(ValueError):
    """A setting in the environment is invalid. The message is one line naming each environment variable, the value
    it has and what it accepts, e.g. `LOG_LEVEL='LOUD': input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'`."""


def load_settings() -> Settings:
    """The settings from the environment, or SettingsError with one line for the operator (not pydantic's report)."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for problem in error.errors(include_url=False):
            variable = ".".join(str(part) for part in problem["loc"]).upper() or "environment"
            reason = problem["msg"][:1].lower() + problem["msg"][1:]
            problems.append(f"{variable}={problem['input']!r}: {reason}")
        raise SettingsError("invalid setting " + "; ".join(problems)) from None
