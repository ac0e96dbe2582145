"""Lambda entry point: the same ASGI app behind Mangum (Function URL and API Gateway HTTP API v2 / REST events).

The image runs it as `python -m awslambdaric app.lambda_handler.handler` (template.yaml ImageConfig).
Lifespan is off: the model is loaded when `app.main` is imported, i.e. once per execution environment,
not on every invocation.
"""

from __future__ import annotations

from mangum import Mangum

from app.main import app

handler = Mangum(app, lifespan="off")
