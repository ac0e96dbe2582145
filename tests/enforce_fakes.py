"""In-memory fakes of the enforcement ports, for tests without network (they satisfy the same Protocols as the
adapters; tests/unit/test_port_conformance.py checks their signatures against the ports)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from ecr_governance.enforce.creation_templates import standard_template
from ecr_governance.enforce.registry_model import CreationTemplate, RegistryPolicy
from ecr_governance.enforce.scanning import RegistryScanning, ScanningRule
from ecr_governance.enforce.settings import EnforceSettings
from ecr_governance.errors import AccessDenied, AwsError, MemberUnreachable, RepositoryNotFound
from ecr_governance.organization.membership import Account
from ecr_governance.repositories import Repository
from ecr_governance.signing import SigningRule

DEFAULTS = EnforceSettings.from_environ({})
STANDARD = json.dumps(DEFAULTS.standard_lifecycle_policy)


class InMemoryRegistry:
    def __init__(self, scanning: RegistryScanning | None = None):
        self.repositories: dict[str, Repository] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.policies: dict[str, str] = {}
        self.scanning = scanning or RegistryScanning("BASIC", (ScanningRule("SCAN_ON_PUSH", ("*",)),))
        # The registry settings ECR added in 2025-26 (the emulator has none of them but the registry policy).
        self.cache_prefixes: tuple[str, ...] = ()
        self.signing: tuple[SigningRule, ...] = ()
        # A registry starts compliant: our ROOT creation template carries the default standard.
        self.templates: dict[str, CreationTemplate] = {"ROOT": standard_template(DEFAULTS)}
        self.exclusions: list[str] = []
        self.registry_policy: RegistryPolicy | None = None
        self.calls: Counter[str] = Counter()
        self.scanning_reads = 0
        self.fail_on: dict[tuple[str, str], Exception] = {}
        # Decides, per call, whether it is throttled past the retries (the run must record it, never miscount it).
        self.throttle: Callable[[str, str], bool] | None = None
        self.throttled: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(  # noqa: PLR0917 - a builder: one argument per repository setting, defaulted
        self, name, mutability="IMMUTABLE", filters=(), scan_on_push=True, policy=STANDARD, tags=None, **more
    ):
        self.repositories[name] = Repository(
            name, f"arn:aws:ecr:ap-southeast-1:1:repository/{name}", mutability, tuple(filters), scan_on_push, **more
        )
        self.tags[name] = tags or {}
        if policy is not None:
            self.policies[name] = policy

    def _call(self, method, name=""):
        with self._lock:  # the enforcer calls from several threads
            self.calls[method] += 1
            failure = self.fail_on.get((method, name))
            if failure is None and self.throttle is not None and self.throttle(method, name):
                failure = AwsError(f"{method} failed after retries", code="ThrottlingException", transient=True)
                self.throttled[(method, name)] += 1
        if failure is not None:
            raise failure

    def get_registry_scanning(self):
        self._call("get_registry_scanning")
        self.scanning_reads += 1
        return self.scanning

    def list_repositories(self):
        self._call("list_repositories")
        return iter(list(self.repositories.values()))

    def get_repository(self, name):
        self._call("get_repository", name)
        if name not in self.repositories:
            raise RepositoryNotFound(name)
        return self.repositories[name]

    def list_tags(self, repository):
        self._call("list_tags", repository.name)
        return self.tags[repository.name]

    def get_lifecycle_policy_text(self, repository_name):
        self._call("get_lifecycle_policy_text", repository_name)
        return self.policies.get(repository_name)

    def put_tag_mutability(self, repository_name, mutability, exclusion_filters):
        self._call("put_tag_mutability", repository_name)
        self.repositories[repository_name] = replace(
            self.repositories[repository_name], tag_mutability=mutability, exclusion_filters=tuple(exclusion_filters)
        )

    def put_repository_scan_on_push(self, repository_name):
        self._call("put_repository_scan_on_push", repository_name)
        self.repositories[repository_name] = replace(self.repositories[repository_name], scan_on_push=True)

    def put_registry_scanning(self, scanning):
        self._call("put_registry_scanning")
        self.scanning = scanning

    def put_lifecycle_policy(self, repository_name, policy):
        self._call("put_lifecycle_policy", repository_name)
        self.policies[repository_name] = json.dumps(policy)

    def pull_through_cache_prefixes(self):
        self._call("pull_through_cache_prefixes")
        return self.cache_prefixes

    def signing_rules(self):
        self._call("signing_rules")
        return self.signing

    def list_creation_templates(self):
        self._call("list_creation_templates")
        return list(self.templates.values())

    def create_creation_template(self, template):
        self._call("put_creation_template", template.prefix)
        if template.prefix in self.templates:
            raise AwsError("template exists", code="TemplateAlreadyExistsException")
        self.templates[template.prefix] = template

    def update_creation_template(self, template):
        self._call("put_creation_template", template.prefix)
        self.templates[template.prefix] = template

    def pull_time_update_exclusions(self):
        self._call("pull_time_update_exclusions")
        return tuple(self.exclusions)

    def register_pull_time_update_exclusion(self, principal_arn):
        self._call("put_pull_time_update_exclusion", principal_arn)
        if principal_arn not in self.exclusions:
            self.exclusions.append(principal_arn)

    def get_registry_policy(self):
        self._call("get_registry_policy")
        return self.registry_policy

    @property
    def writes(self):
        return Counter({m: n for m, n in self.calls.items() if m.startswith("put_")})


class InMemoryTagSource:
    """The bulk tag read (GetResources) over an InMemoryRegistry's tags; `denied` makes it answer AccessDenied."""

    def __init__(self, registry: InMemoryRegistry, denied: bool = False):
        self.registry = registry
        self.denied = denied
        self.calls = 0

    def repository_tag_values(self, tag_key: str) -> dict[str, str]:
        self.calls += 1
        if self.denied:
            raise AccessDenied("access denied: GetResources needs IAM permission tag:GetResources", code="AccessDenied")
        return {name: tags[tag_key] for name, tags in self.registry.tags.items() if tag_key in tags}


class InMemoryOrganization:
    """An organization's account list (OrganizationDirectory) and whether each member's role can be assumed
    (MemberAccess): the accounts in `unreachable` refuse, as a member the StackSet has not reached yet."""

    def __init__(self, accounts: list[Account], unreachable: tuple[str, ...] = ()):
        self.accounts_list = list(accounts)
        self.unreachable = set(unreachable)
        self.reads = 0

    def all_accounts(self) -> list[Account]:
        self.reads += 1
        return list(self.accounts_list)

    def accounts_under(self, parents: tuple[str, ...]) -> list[Account]:
        return self.all_accounts()

    def check(self, account_id: str) -> None:
        if account_id in self.unreachable:
            raise MemberUnreachable(f"cannot assume arn:aws:iam::{account_id}:role/ecr-governance-member: AccessDenied")


class RecordingWorkQueue:
    """The hub's member work queue: records what is sent; `refuse` answers every message as not sent."""

    def __init__(self, refuse: bool = False):
        self.sent: list[object] = []
        self.refuse = refuse

    def send_work(self, messages: list[object]) -> tuple[int, ...]:
        if self.refuse:
            return tuple(range(len(messages)))
        self.sent.extend(messages)
        return ()
