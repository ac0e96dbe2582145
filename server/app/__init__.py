"""The retail demand API: a top-level package named `app`, run from server/ (`uvicorn app.main:app`), as the image
and the Lambda function run it. Imported from anywhere else - `uvicorn server.app.main:app` from the repository
root - its own `from app import ...` lines could not work: say where to run it instead of a ModuleNotFoundError."""

if __name__ != "app":
    raise SystemExit(
        f"retail-api: this package is `app`, run from server/, not `{__name__}`: "
        "`cd server && ../.venv/bin/uvicorn app.main:app`, or from the repository root "
        "`.venv/bin/uvicorn --app-dir server app.main:app`"
    )
