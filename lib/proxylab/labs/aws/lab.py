"""The AWS lab: the seed topology as a CloudFormation stack on the user's account.

`up` shows the plan and an hourly cost estimate, asks (unless ``assume_yes``),
creates the stack showing its events, seeds the CSV object, uploads the probe and
waits for Squid through SSM. `attach` adopts an existing stack (by name, by tag, or
from a JSON mapping of resource ids). `down` empties the bucket, deletes the stack,
waits, and lists what is left. Runs update the function's environment, invoke it
with ``LogType=Tail`` and pull the evidence from CloudWatch Logs.

:class:`AwsLab` is the facade that implements the Lab protocol; each concern is its
own module, sharing one :class:`~proxylab.labs.aws.context.AwsContext`:

- ``resources``  stack outputs <-> resource names, the attach mapping file
- ``provision``  plan + cost, create, finish setup, endpoint-layout updates
- ``attach``     find a stack by tag, check every resource a run needs
- ``describe``   the LabDescription captures record
- ``invoke``     one invocation's Lambda calls; ``logs`` the CloudWatch lines
- ``evidence``   one run's Squid lines and API Gateway records, bounded waits
- ``teardown``   delete, empty the bucket, list leftovers
- ``stack``, ``template``, ``cost``, ``ssm``  CloudFormation, template, prices, SSM

Credentials come only from boto3's standard chain (environment, profile, SSO,
instance role); this package never reads, copies or records them.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError

from proxylab.labs.aws import attach as att
from proxylab.labs.aws import describe as dsc
from proxylab.labs.aws import evidence, logs, provision, ssm, stack, teardown
from proxylab.labs.aws import invoke as inv
from proxylab.labs.aws import resources as rsc
from proxylab.labs.aws import template as tpl
from proxylab.labs.aws.context import AwsContext, default_echo, tty_confirm
from proxylab.labs.aws.resources import USABLE_STATUSES, NoStack
from proxylab.labs.aws.stack import Clock
from proxylab.labs.base import (
    EndpointLayout,
    Evidence,
    EvidenceMark,
    FunctionCode,
    Invocation,
    LabDescription,
    LabError,
)
from proxylab.labs.proxy_policy import DEFAULT_SQUID, ProxyPolicy

DEFAULT_NAME = "proxylab"
DEFAULT_REGION = "ap-northeast-1"  # the seed's region
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


class AwsLab:
    """The real-AWS backend. Options (all keyword; any other is refused by
    :func:`~proxylab.labs.registry.get_lab`):

    name            lab name: stack name, resource-name prefix, ``proxylab:lab`` tag
    region          AWS region (default: the profile's, else ap-northeast-1)
    assume_yes      create/delete without asking (``--yes``)
    profile         AWS profile name (default: the standard chain)
    resources_file  JSON mapping of resource ids to use instead of a stack (attach)
    s3_interface    create (True) or remove (False) the S3 interface endpoint; None
                    (default): off at creation, left as it is afterwards
    proxy_instance_type / proxy_image_parameter   Squid's EC2 type and AMI SSM parameter

    For tests and embedding: ``session``, ``template_body``, ``echo``, ``confirm``,
    ``clock``, ``poll_s`` and the ``*_timeout_s`` bounds.
    """

    backend = "aws"

    def __init__(
        self,
        name: str | None = None,
        region: str | None = None,
        assume_yes: bool = False,
        profile: str | None = None,
        resources_file: str | None = None,
        s3_interface: bool | None = None,
        proxy_instance_type: str | None = None,
        proxy_image_parameter: str | None = None,
        session: Any = None,
        template_body: str | None = None,
        echo: Callable[[str], None] | None = None,
        confirm: Callable[[str], bool] | None = None,
        clock: Clock | None = None,
        poll_s: float = 5.0,
        stack_timeout_s: float = 1800.0,
        squid_timeout_s: float = 900.0,
        log_timeout_s: float = 180.0,
    ) -> None:
        self.name = name or DEFAULT_NAME
        if not NAME_RE.match(self.name):
            raise LabError(
                f"lab name {self.name!r}: use 1-20 lower-case letters, digits or '-', "
                "starting with a letter (it prefixes bucket and function names)"
            )
        self.stack_name = self.name
        self.assume_yes = assume_yes
        if session is None:
            import boto3

            try:
                session = boto3.session.Session(profile_name=profile)
            except BotoCoreError as exc:
                raise LabError(f"AWS profile {profile!r}: {exc}") from exc
        extra_params: dict[str, str] = {}
        if proxy_instance_type:
            extra_params["ProxyInstanceType"] = proxy_instance_type
        if proxy_image_parameter:
            extra_params["ProxyImageId"] = proxy_image_parameter
        self.blueprint = provision.Blueprint(
            name=self.name,
            template_body=template_body if template_body is not None else tpl.template_body(),
            s3_interface=s3_interface,
            extra_params=extra_params,
        )
        self.ctx = AwsContext(
            session=session,
            region=region or session.region_name or DEFAULT_REGION,
            echo=echo or default_echo,
            clock=clock or Clock(),
            poll_s=poll_s,
            stack_timeout_s=stack_timeout_s,
            squid_timeout_s=squid_timeout_s,
            log_timeout_s=log_timeout_s,
        )
        self.resources_file = resources_file
        self.confirm = confirm or tty_confirm
        self._mapping: dict[str, str] | None = None
        self._created_here = False
        self._complete_logs: dict[str, bool] = {}  # request id -> CloudWatch log complete
        self._variants: dict[str, str] = {}  # request id -> function variant

    @property
    def region(self) -> str:
        return self.ctx.region

    # ---------------------------------------------------------------- resource ids
    def _stack(self) -> dict[str, Any] | None:
        return self.ctx.call(
            "CloudFormation",
            lambda: stack.find_stack(self.ctx.client("cloudformation"), self.stack_name),
        )

    @property
    def _attached(self) -> bool:
        """Described by a resource mapping: there is no stack to create or update."""
        return bool(self.resources_file) or self._mapping is not None

    def outputs(self) -> dict[str, str]:
        """The lab's resource ids: the stack's outputs, or the attach mapping."""
        if self._mapping is None and self.resources_file:
            self._mapping = rsc.load_mapping(self.resources_file)
        if self._mapping is not None:
            return dict(self._mapping)
        found = self._stack()
        if found is None or found["StackStatus"] not in USABLE_STATUSES:
            raise NoStack(
                f"no usable AWS lab stack {self.stack_name!r} in {self.region}"
                + (f" (it is {found['StackStatus']})" if found else "")
                + ": run `proxylab lab up --backend aws`"
            )
        return stack.outputs(found)

    # ---------------------------------------------------------------- up / attach
    def plan(self, endpoints: EndpointLayout) -> str:
        """What `up` will create, and what it costs per hour."""
        return provision.plan(self.ctx, self.blueprint, self.stack_name, endpoints)

    def up(
        self, endpoints: EndpointLayout | None = None, progress: Callable[[str], None] | None = None
    ) -> LabDescription:
        say = progress or self.ctx.echo
        layout = endpoints or EndpointLayout()
        if self._attached:
            say("attached through a resource mapping: checking it, creating nothing")
            return self.attach(self.resources_file)
        found = self._stack()
        if found is not None:
            provision.keep_existing(self.ctx, self.stack_name, found, say)
            self.apply(layout, progress=say)
        else:
            say(self.plan(layout))
            if not self.assume_yes and not self.confirm(
                "Create these resources on your AWS account?"
            ):
                raise LabError("not confirmed: nothing was created")
            provision.create(self.ctx, self.blueprint, self.stack_name, layout, say)
            self._created_here = True
        provision.finish_setup(self.ctx, self.outputs(), say)
        return self.describe()

    def attach(self, resources: str | None = None) -> LabDescription:
        """Adopt an existing lab: a JSON mapping of resource ids, the stack named like
        the lab, or a stack tagged ``proxylab:lab=<name>``; then check its parts."""
        if resources:
            self.resources_file = resources
            self._mapping = rsc.load_mapping(resources)
        elif self._stack() is None:
            self.stack_name = att.find_by_tag(self.ctx, self.name, self.stack_name)
            self.ctx.echo(f"found stack {self.stack_name!r} by its tag")
        problems = att.check_resources(self.ctx, self.outputs())
        if problems:
            raise LabError("the lab is incomplete:\n  " + "\n  ".join(problems))
        return self.describe()

    # ---------------------------------------------------------------- describe / apply
    def describe(self) -> LabDescription:
        try:
            out = self.outputs()
        except NoStack:  # credential and API errors still surface
            return dsc.down(self.name, self.region)
        found = None if self._mapping is not None else self._stack()
        return dsc.describe(self.ctx, self.name, self.stack_name, out, found)

    def apply(
        self, endpoints: EndpointLayout, progress: Callable[[str], None] | None = None
    ) -> None:
        """Update the stack's endpoint parameters (see :func:`provision.apply_layout`)."""
        if self._attached:
            if endpoints.to_dict() != EndpointLayout().to_dict():
                raise LabError(
                    "an attached lab (--resources mapping) has no stack to update: create the "
                    "endpoint layout yourself, or use a lab made by `proxylab lab up --backend aws`"
                )
            return
        if endpoints.beyond_seed:
            raise LabError(
                f"endpoint layout field(s) {', '.join(endpoints.beyond_seed)} are built by the "
                "local lab only: the AWS lab's template has the seed's endpoints (S3 gateway, "
                "execute-api interface)"
            )
        if dataclasses.replace(endpoints.proxy, squid=DEFAULT_SQUID) != ProxyPolicy():
            raise LabError(
                "a scenario's proxy policy (allowlist, users, own squid.conf) is applied by the "
                "local lab only: the AWS lab's Squid keeps its template's rules"
            )
        provision.apply_layout(
            self.ctx,
            self.blueprint,
            self.stack_name,
            endpoints,
            self.outputs,
            progress or self.ctx.echo,
        )

    # ---------------------------------------------------------------- runs
    def function_configuration(self, variant: str) -> dict[str, str]:
        """The probe deployment's own variables (BUCKET_NAME, API_GATEWAY_URL, ...)."""
        return rsc.function_configuration(self.outputs(), variant)

    def mark(self) -> EvidenceMark:
        return EvidenceMark(taken_at=self.ctx.clock.now())

    def invoke(
        self,
        function: str,
        env: dict[str, str],
        event: dict[str, Any],
        timeout_s: float,
        code: FunctionCode | None = None,
    ) -> Invocation:
        ctx = self.ctx
        out = self.outputs()
        fn = rsc.function_name(out, function)
        config_env = rsc.function_configuration(out, function)
        lam = ctx.client("lambda")
        ctx.call(
            "Lambda configuration",
            lambda: inv.prepare(lam, fn, config_env, env, timeout_s, code, ctx.clock, ctx.poll_s),
        )
        # One attempt: a retried Invoke (e.g. after a read timeout) would run the function twice.
        invoker = ctx.client("lambda", read_timeout=timeout_s + 30, attempts=1)
        result = inv.invoke(invoker, fn, event, ctx.clock)
        self._variants[result.request_id] = function
        if result.status != "lab-error" and result.request_id:
            full = logs.poll_function_log(
                ctx.client("logs"),
                f"/aws/lambda/{fn}",
                result.request_id,
                logs.Window(result.started_at, result.finished_at),
                ctx.log_timeout_s,
                ctx.poll_s,
                ctx.clock,
            )
            self._complete_logs[result.request_id] = full is not None
            if full is not None:
                result.function_log = full
        return result

    def collect(self, mark: EvidenceMark, invocation: Invocation) -> Evidence:
        rid = invocation.request_id
        return evidence.collect(
            self.ctx,
            self.outputs(),
            mark,
            invocation,
            # None for a placeholder invocation: then every probe's ENIs count.
            self._variants.get(rid),
            self._complete_logs.get(rid, False),
        )

    def exec(
        self,
        place: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> int:
        """On AWS only the proxy host runs commands (SSM Run Command): a Lambda subnet
        has no shell, and 'internet'/'aws' are the real ones."""
        if place != "proxy":
            raise LabError(
                f"the AWS lab runs commands only on the proxy host (--in proxy), not in {place!r}: "
                "the Lambda VPC has no machine to run them on"
            )
        if not argv:
            raise LabError("nothing to run: give a command after `--`")
        instance = self.outputs()["ProxyInstanceId"]
        ctx = self.ctx
        res = ssm.run(
            ctx.client("ssm"), instance, argv, env, timeout_s or 60, ctx.poll_s, ctx.clock
        )
        if res.stdout:
            print(res.stdout, end="" if res.stdout.endswith("\n") else "\n")
        if res.stderr:
            print(res.stderr, end="" if res.stderr.endswith("\n") else "\n", file=sys.stderr)
        if res.status not in ("Success", "Failed"):
            raise LabError(f"command on {instance}: {res.status} {res.stderr}".strip())
        return res.exit_code

    # ---------------------------------------------------------------- down
    def down(self) -> list[str]:
        found = self._stack()
        if found is None:
            self.ctx.echo(
                f"no AWS lab stack {self.stack_name!r} in {self.region}: nothing to delete"
            )
            return []
        if not (self.assume_yes or self._created_here) and sys.stdin.isatty():
            if not self.confirm(f"Delete stack {self.stack_name!r} and everything in it?"):
                raise LabError("not confirmed: nothing was deleted")
        left = teardown.delete(self.ctx, self.name, self.stack_name, stack.outputs(found))
        self._created_here = False
        return left
