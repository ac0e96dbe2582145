"""The loaded model, held by the application (one per process, loaded once at start-up)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from app.forecast import DemandModel, ModelLoadError

logger = logging.getLogger("retail_api.model")


@dataclass
class ModelSlot:
    model: DemandModel | None
    error: str | None = None

    @classmethod
    def load(cls, path: Path) -> ModelSlot:
        """A failed load leaves the process alive but not ready (liveness stays green, readiness says why)."""
        try:
            model = DemandModel.load(path)
        except ModelLoadError as error:
            logger.error("model not loaded", extra={"model_path": str(path), "reason": str(error)})
            return cls(model=None, error=str(error))
        artifact = model.artifact
        logger.info(
            "model loaded",
            extra={"model_path": str(path), "model_name": artifact.name, "model_version": artifact.version},
        )
        return cls(model=model)
