"""The one translator: every botocore error becomes a domain error with AWS's code and a message a person can act on.

Adapters wrap each call in `translated(...)`; nothing above the AWS edge sees a ClientError. Services then record a
failed call as that repository's `failed` decision (code included) and go on with the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
)

from ecr_governance.errors import (
    AccessDenied,
    AwsError,
    CredentialsMissing,
    EndpointUnreachable,
    ImageNotFound,
    ManagedByOrganization,
    RepositoryNotFound,
    ScanNotFound,
)

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AuthorizationErrorException",
    }
)
CREDENTIALS_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "InvalidClientTokenId"}
)
# What ECR and the other services answer when a caller goes too fast (also HTTP 429).
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "LimitExceededException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
    }
)
CONNECTION_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_transient(error: ClientError) -> bool:
    """A throttle or a server-side failure: worth another try later, unlike a refusal."""
    status = _http_status(error)
    return error_code(error) in THROTTLING_CODES or status == 429 or status >= 500


def translate(error: Exception, operation: str, service: str = "ecr", resource: str | None = None) -> AwsError:
    """The domain error for a botocore error raised by `service`'s `operation` on `resource` (if one)."""
    on = f" on {resource}" if resource else ""
    if isinstance(error, ClientError):
        return _client_error(error, operation, service, resource)
    if isinstance(error, NoCredentialsError):
        return CredentialsMissing(
            "no AWS credentials found: set AWS_PROFILE / AWS_ACCESS_KEY_ID, run `aws configure`, or use --local",
            operation=operation,
            code="NoCredentials",
        )
    if isinstance(error, NoRegionError):
        return AwsError(
            "no AWS region configured: pass --region or set AWS_REGION", operation=operation, code="NoRegion"
        )
    if isinstance(error, CONNECTION_ERRORS):
        return EndpointUnreachable(
            f"cannot reach the {service} endpoint for {operation}: {error}",
            operation=operation,
            code=type(error).__name__,
            transient=True,
        )
    if isinstance(error, ParamValidationError):
        return AwsError(f"{operation}{on}: invalid request: {error}", operation=operation, code="ParamValidation")
    return AwsError(f"{operation}{on} failed: {error}", operation=operation, code=type(error).__name__)


def _client_error(error: ClientError, operation: str, service: str, resource: str | None) -> AwsError:
    """The domain error for an error AWS answered, by its code (and HTTP status for throttles and server errors)."""
    on = f" on {resource}" if resource else ""
    code = error_code(error)
    message = error.response.get("Error", {}).get("Message", "") or str(error)
    if code == "RepositoryNotFoundException" and resource:
        return RepositoryNotFound(resource, operation)
    if code == "BlockedByOrganizationPolicyException":
        return ManagedByOrganization(
            f"{operation}{on}: managed by the organization: {message}", operation=operation, code=code
        )
    if code == "ImageNotFoundException":
        return ImageNotFound(f"{operation}{on}: {message}", operation=operation, code=code)
    if code == "ScanNotFoundException":
        return ScanNotFound(f"{operation}{on}: {message}", operation=operation, code=code)
    if code in ACCESS_DENIED_CODES:
        return AccessDenied(
            f"access denied: {operation}{on} needs IAM permission {service}:{operation}",
            operation=operation,
            code=code,
        )
    if code in CREDENTIALS_CODES:
        return CredentialsMissing(
            f"AWS rejected the credentials ({code}) on {operation}", operation=operation, code=code
        )
    if is_transient(error):
        return AwsError(
            f"{operation}{on} failed after retries: {code or _http_status(error)}: {message}",
            operation=operation,
            code=code or f"HTTP{_http_status(error)}",
            transient=True,
        )
    return AwsError(f"{operation}{on} failed: {code}: {message}", operation=operation, code=code)


@contextmanager
def translated(operation: str, service: str = "ecr", resource: str | None = None) -> Iterator[None]:
    """Run an AWS call; any botocore error leaves as the domain error `translate` gives."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation, service, resource) from error
