"""Domain errors. Adapters translate botocore errors into these; the CLI prints them as one line."""


class GovernanceError(Exception):
    """Base class: something the user or the account can fix, reported as one clear line."""


class SettingsError(GovernanceError):
    """A setting (environment variable / template Parameter) is missing or invalid; names the setting."""


class RepositoryNotFound(GovernanceError):
    def __init__(self, repository_name: str):
        super().__init__(f"repository not found: {repository_name}")
        self.repository_name = repository_name


class AccessDenied(GovernanceError):
    """The caller's credentials lack an IAM permission; names the action."""


class CredentialsMissing(GovernanceError):
    pass


class EndpointUnreachable(GovernanceError):
    pass


class InvalidEvent(GovernanceError):
    """An event that is not one this function handles; rejected without retry."""


class InputError(GovernanceError):
    """An input file the user gave cannot be read or parsed."""
