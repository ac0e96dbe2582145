"""Domain errors. The one translator (aws/errors.py) turns every botocore error into one of these; the CLI prints
them as one line and the services record them as a repository's `failed` decision."""

from __future__ import annotations

from dataclasses import dataclass


class GovernanceError(Exception):
    """Base class: something the user or the account can fix, reported as one clear line."""


class SettingsError(GovernanceError):
    """A setting (environment variable / template Parameter) is missing or invalid; names the setting."""


class InvalidEvent(GovernanceError):
    """An event that is not one this function handles; rejected without retry."""


class InputError(GovernanceError):
    """An input file the user gave cannot be read or parsed."""


class AwsError(GovernanceError):
    """An AWS call failed. `code` is AWS's error code; `transient` says whether it outlived the retries of a
    throttle, a server error or a dropped connection (worth another try later) rather than being a refusal."""

    def __init__(self, message: str, *, operation: str = "", code: str = "", transient: bool = False):
        super().__init__(message)
        self.operation = operation
        self.code = code
        self.transient = transient


class RepositoryNotFound(AwsError):
    def __init__(self, repository_name: str, operation: str = ""):
        super().__init__(
            f"repository not found: {repository_name}", operation=operation, code="RepositoryNotFoundException"
        )
        self.repository_name = repository_name


class ImageNotFound(AwsError):
    """The image was deleted (or never existed) by the time it was read."""


class ScanNotFound(ImageNotFound):
    """The image exists (or did) but has no scan to read: it was never scanned, or its scan is gone."""


class AccessDenied(AwsError):
    """The caller's credentials lack an IAM permission; names the action."""


class MemberUnreachable(AwsError):
    """A member account's governance role could not be assumed (not deployed yet, or its trust does not admit the
    hub): that account is `not-onboarded`, the others go on."""


class ManagedByOrganization(AwsError):
    """The organization governs this setting (BlockedByOrganizationPolicyException, e.g. an Amazon Inspector
    organization policy owns registry scanning): reported as managed, never a failure to retry."""


class FatalAwsError(AwsError):
    """No AWS call can succeed (no credentials, no endpoint): recording it against one repository and going on to
    the next would only repeat it. Services catch GovernanceError per repository but let these end the run."""


class CredentialsMissing(FatalAwsError):
    pass


class EndpointUnreachable(FatalAwsError):
    pass


@dataclass(frozen=True, kw_only=True)
class Failure:
    """An error recorded as a decision or an outcome instead of ending the run (one shape for every capability).

    `transient`: a throttle or server error that outlived the retries, so the next run may succeed.
    `repository_gone`: the repository was deleted meanwhile - a no-op, not a failure to alarm on.
    """

    code: str
    message: str
    transient: bool = False
    repository_gone: bool = False

    @classmethod
    def of(cls, error: GovernanceError) -> Failure:
        if isinstance(error, AwsError):
            return cls(
                code=error.code,
                message=str(error),
                transient=error.transient,
                repository_gone=isinstance(error, RepositoryNotFound),
            )
        return cls(code=type(error).__name__, message=str(error))
