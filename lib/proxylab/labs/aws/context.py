"""What every part of the AWS lab shares: the boto3 session and region, clients with
timeouts, one translation of credential and API errors, and the clock and output.

The parts (provisioning, evidence, teardown, ...) take this object rather than the
:class:`~proxylab.labs.aws.lab.AwsLab` facade, so none of them imports the facade and
each can be tested with a stubbed session. Credentials come only from boto3's
standard chain; nothing here reads, copies or records them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from proxylab.labs.aws.stack import Clock
from proxylab.labs.base import LabError


def default_echo(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def tty_confirm(question: str) -> bool:
    """Ask on the terminal; without one, refuse rather than create billable resources."""
    if not sys.stdin.isatty():
        raise LabError(
            "the AWS lab creates billable resources and asks first, but there is no terminal "
            "to ask on: re-run with --yes to confirm"
        )
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


@dataclass
class AwsContext:
    """The session, region, clock, output and bounded waits of one AWS lab."""

    session: Any
    region: str
    echo: Callable[[str], None] = default_echo
    clock: Clock = field(default_factory=Clock)
    poll_s: float = 5.0
    stack_timeout_s: float = 1800.0
    squid_timeout_s: float = 900.0
    log_timeout_s: float = 180.0
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str, read_timeout: float = 60.0, attempts: int = 5) -> Any:
        """A client with timeouts; ``attempts=1`` where a retry would repeat an effect."""
        key = f"{service}:{read_timeout}:{attempts}"
        if key not in self._clients:
            cfg = Config(
                region_name=self.region,
                connect_timeout=10,
                read_timeout=read_timeout,
                retries={"max_attempts": attempts, "mode": "standard"},
            )
            try:
                self._clients[key] = self.session.client(service, config=cfg)
            except NoRegionError as exc:
                raise LabError("no AWS region: pass --region or set AWS_REGION") from exc
        return self._clients[key]

    def call(self, what: str, fn: Callable[[], Any]) -> Any:
        """Turn credential and API errors into one actionable line."""
        try:
            return fn()
        except NoCredentialsError as exc:
            raise LabError(
                "no AWS credentials found (environment, profile, SSO or instance role): "
                "configure them, e.g. `aws configure sso`, or set AWS_PROFILE"
            ) from exc
        except ClientError as exc:
            raise LabError(f"{what}: {exc}") from exc

    def sleep_until(self, when: float) -> None:
        """Sleep in poll steps until the clock reaches ``when``."""
        while self.clock.now() < when:
            self.clock.sleep(min(self.poll_s, max(0.0, when - self.clock.now())) or self.poll_s)
