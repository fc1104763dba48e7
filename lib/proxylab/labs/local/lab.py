"""The local lab: the seed's topology on one Linux machine.

Four network namespaces (see :mod:`topology`), real Squid, three real dnsmasq
resolvers, TLS fronts for the web site, S3 and API Gateway, and the Lambda runtime.
State lives in ``/run/proxylab/<name>/`` (``lab.json`` is written *before* anything
is created, so `down` can always find what a crashed `up` left).

Why one module of ~700 lines: ``LocalLab`` is the order of bring-up and tear-down
(wire, issue certificates, start, wait healthy, apply, mark, collect, down) over one
saved state; everything that stands alone is already its own module (topology,
netns, processes, dns, squid and its root, fronts, pki, invoker, runtime API).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from proxylab.labs.base import (
    EndpointLayout,
    Evidence,
    EvidenceMark,
    FunctionCode,
    Invocation,
    LabDescription,
    LabError,
    Place,
    Service,
    state_root,
)
from proxylab.labs.local import (
    dns,
    netns,
    pki,
    processes,
    regions,
    sockdiag,
    squid,
    squid_auth,
)
from proxylab.labs.local import topology as t
from proxylab.labs.local.invoker import DEFAULT_CREDENTIALS
from proxylab.labs.proxy_policy import ProxyPolicy

T = TypeVar("T")
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
DEFAULT_NAME = "proxylab"
UP_TIMEOUT_S = 20.0
# Evidence files (live, in the state dir) and the capture file each feeds.
DNS_LOGS = {r.name: f"dns-{r.name}.log" for r in dns.RESOLVERS}


def _listening(port: int) -> bool:
    """A TCP socket listens on ``port`` in the calling thread's namespace. Used for
    Squid, which logs every bare connect as ``NONE_NONE/000``."""
    try:
        return sockdiag.listening(port)
    except OSError:
        return False


def _tcp_ok(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


class LocalLab:
    """The Lab protocol on network namespaces. Options (all keyword; any other is
    refused by :func:`~proxylab.labs.registry.get_lab`):

    name        lab name: namespaces ``<lab>-<place>``, state ``$PROXYLAB_STATE/<lab>``
    web_host    the web site's name, WEB_URL's host (default www.google.com)
    region      the region the lab models: any commercial region in botocore's data
                (:mod:`.regions`; others are refused, never ignored). Default: the
                region of the lab that is up, else ``topology.REGION``. A lab up in
                another region counts as not up for this one: `up` rebuilds it.
    assume_yes  accepted for symmetry with the AWS lab: the local lab creates nothing
                billable and never asks
    """

    backend = "local"

    def __init__(
        self,
        name: str = DEFAULT_NAME,
        web_host: str | None = None,
        region: str | None = None,
        assume_yes: bool = False,
    ) -> None:
        if region is not None:
            regions.check_region(region)
        if not NAME_RE.match(name):
            raise LabError(
                f"lab name {name!r}: use 1-12 lowercase letters/digits, starting with a letter"
            )
        self.name = name
        self.state = state_root() / name
        # A lab that is up keeps the web site it was built with, whoever asks.
        self.web_host = web_host or self._saved().get("web_host") or t.WEB_HOST
        if not re.fullmatch(
            r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", self.web_host
        ):
            raise LabError(f"web host {self.web_host!r} is not a DNS name (e.g. www.example.com)")
        self.region = region or self._built_region() or t.REGION

    def _built_region(self) -> str | None:
        """The region the saved lab was built for (labs from before regions: the default)."""
        saved = self._saved()
        return saved.get("region", t.REGION) if saved else None

    @property
    def names(self) -> regions.RegionNames:
        """The region's public names, from botocore's data (cached on disk)."""
        return regions.names_for(self.region)

    # ---------------------------------------------------------------- naming
    def ns(self, place: str) -> str:
        """``<lab>-<place>``, behind ``PROXYLAB_NS_PREFIX`` when set: namespaces are
        machine-wide while ``PROXYLAB_STATE`` is per checkout, so two checkouts'
        test suites on one machine need distinct namespace names too."""
        return f"{os.environ.get('PROXYLAB_NS_PREFIX', '')}{self.name}-{place}"

    @property
    def namespaces(self) -> list[str]:
        return [self.ns(p) for p in t.PLACES]

    def _saved(self) -> dict[str, Any]:
        try:
            return json.loads((self.state / "lab.json").read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, **changes: Any) -> None:
        data = self._saved()
        data.update(changes)
        self.state.mkdir(parents=True, exist_ok=True)
        tmp = self.state / "lab.json.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.state / "lab.json")

    @property
    def layout(self) -> EndpointLayout:
        return EndpointLayout.from_dict(self._saved().get("endpoints"))

    @property
    def ca_file(self) -> Path:
        return self.state / "pki" / "ca.pem"

    def plumbing_env(self) -> dict[str, str]:
        return pki.plumbing_env(self.ca_file)

    # ---------------------------------------------------------------- up
    def up(self, endpoints: EndpointLayout | None = None, progress: Any = None) -> LabDescription:
        netns.check_support()
        if shutil.which("dnsmasq", path=processes.BASE_PATH) is None:
            raise LabError(
                "`dnsmasq` is not installed: run `make setup` (or apt-get install dnsmasq-base)"
            )
        layout = endpoints or EndpointLayout()
        why_not = squid.get(layout.proxy.squid).available()
        if why_not:
            raise LabError(why_not)
        say = progress or (lambda msg: None)
        if self._is_up():
            if self.healthy() and self._saved().get("web_host") == self.web_host:
                if endpoints is not None:
                    self.apply(endpoints)
                return self.describe()
            say("lab is half up: cleaning it before starting again")
        self.down()
        started = time.monotonic()
        self.state.mkdir(parents=True, exist_ok=True)
        self._save(
            name=self.name,
            namespaces=self.namespaces,
            endpoints=layout.to_dict(),
            web_host=self.web_host,
            region=self.region,
            started_at=time.time(),
            pids={},
        )
        try:
            say("creating namespaces and links")
            self._wire(layout)
            say("issuing TLS certificates")
            pki.issue(self.state / "pki", self.names.tls_names(self.web_host))
            say(f"starting dnsmasq, Squid {layout.proxy.squid} and the service fronts")
            self._start_services(layout)
            self._wait_healthy(UP_TIMEOUT_S)
        except BaseException:
            self.down()
            raise
        self._save(up_seconds=round(time.monotonic() - started, 3))
        return self.describe()

    def missing_parts(self) -> list[str]:
        """What a lab that has state but is not up lacks (empty for a lab never made)."""
        saved = self._saved()
        if not saved:
            return []
        out = [] if "up_seconds" in saved else ["a finished `lab up` (it was interrupted)"]
        if self._built_region() != self.region:
            out.append(f"region {self.region} (it is built for {self._built_region()}: "
                       f"`proxylab lab up --region {self.region}` rebuilds it)")
        out += [f"namespace {n}" for n in self.namespaces if not netns.exists(n)]
        return out

    def _is_up(self) -> bool:
        """Built to the end (``up_seconds`` is saved last, so a ``lab up`` killed half
        way is not "up"), for the region asked (a lab in another region would run the
        scenario in the wrong region) and every namespace still there."""
        return ("up_seconds" in self._saved() and self._built_region() == self.region
                and all(netns.exists(n) for n in self.namespaces))

    def _wire(self, layout: EndpointLayout) -> None:
        w = t.wiring(layout)
        for place in t.PLACES:
            ns = self.ns(place)
            netns.add(ns)
            for key, value in (
                ("net.ipv4.conf.all.rp_filter", "0"),
                ("net.ipv4.conf.default.rp_filter", "0"),
                ("net.ipv4.ip_nonlocal_bind", "1"),
                ("net.ipv4.ip_forward", "1" if place in w.forwarding else "0"),
                ("net.ipv6.conf.all.disable_ipv6", "1"),
            ):
                _sysctl(ns, key, value)
        for link in w.links:
            netns.veth(self.ns(link.a), link.dev_a, self.ns(link.b), link.dev_b)
            for addr in link.addrs_a:
                netns.ip("-n", self.ns(link.a), "addr", "add", addr, "dev", link.dev_a)
            for addr in link.addrs_b:
                netns.ip("-n", self.ns(link.b), "addr", "add", addr, "dev", link.dev_b)
        for place, addrs in w.loopback.items():
            for addr in addrs:
                netns.ip("-n", self.ns(place), "addr", "add", addr, "dev", "lo")
        for place, (dev, void) in w.voids.items():
            netns.veth(self.ns(place), dev, self.ns(place), void)
            netns.ip(
                "-n",
                self.ns(place),
                "neigh",
                "replace",
                t.VOID_NEXT_HOP,
                "lladdr",
                t.VOID_MAC,
                "dev",
                dev,
                "nud",
                "permanent",
            )
        for place, dev, addr in t.layout_addresses(layout):
            netns.ip("-n", self.ns(place), "addr", "add", addr, "dev", dev)
        for place, routes in w.routes.items():
            for route in routes:
                netns.ip("-n", self.ns(place), "route", "replace", *route)
        resolvers = {
            "lambda": t.LAMBDA_RESOLVER,
            "proxy": t.PROXY_RESOLVER,
            "internet": t.PUBLIC_DNS_IP,
            "aws": t.PUBLIC_DNS_IP,
        }
        for place, server in resolvers.items():
            netns.write_resolv_conf(self.ns(place), server)

    def _start_services(self, layout: EndpointLayout) -> None:
        # The fronts first: they take longest to answer (a Python start each), so
        # the resolvers and Squid start while they do. (pids keep their usual order.)
        fronts = self._start_fronts()
        pids: dict[str, int] = {}
        for resolver in dns.RESOLVERS:
            pids[f"dns-{resolver.name}"] = self._start_dns(resolver, layout)
        pids["squid"] = self._start_squid(layout.proxy)
        pids.update(fronts)
        self._save(pids=pids)

    def _start_fronts(self) -> dict[str, int]:
        pids: dict[str, int] = {}
        (self.state / "services.log").touch()
        for place, servers in self._front_servers().items():
            spec = {
                "cert": str(self.state / "pki" / "fronts.pem"),
                "key": str(self.state / "pki" / "fronts.key"),
                "log": str(self.state / "services.log"),
                "servers": servers,
                "web_host": self.web_host,
                "region": self.region,
                "execute_api_host": self.names.execute_api,
                "bucket": t.BUCKET,
                "source_key": t.SOURCE_KEY,
                "apis": {t.REGIONAL_API_ID: "REGIONAL", t.PRIVATE_API_ID: "PRIVATE"},
            }
            spec_file = self.state / f"fronts-{place}.json"
            spec_file.write_text(json.dumps(spec, indent=2))
            pids[f"fronts-{place}"] = processes.spawn(
                self.ns(place),
                [sys.executable, "-m", "proxylab.labs.local.fronts", str(spec_file)],
                self.state / f"fronts-{place}.out",
            )
        return pids

    def _start_squid(self, policy: ProxyPolicy, replacing: int | None = None) -> int:
        """Write Squid's files, check a user's own config, and only then stop the
        Squid being replaced (``replacing``): a rejected config leaves the lab as it was."""
        build = squid.get(policy.squid)
        sq = self.state / "squid"
        sq.mkdir(exist_ok=True)
        seen = build.seen(sq)
        (sq / "squid.conf").write_text(squid.render(seen, policy))
        if policy.users:
            squid_auth.write_passwd(sq / "passwd", policy.users)
        if policy.config:
            try:
                text = Path(policy.config).read_text()
            except OSError as exc:
                raise LabError(f"proxy config {policy.config}: {exc.strerror}") from None
            (sq / "user-squid.conf").write_text(squid.user_config(text))
        (sq / "access.log").touch()  # appended to across restarts: offsets stay valid
        for f in [sq, *sq.iterdir()]:
            shutil.chown(f, "proxy", "proxy")
        if policy.config:
            problems = build.parse(sq)
            if problems:
                mine = {str(seen / "user-squid.conf"), str(sq / "user-squid.conf")}
                shown = [_user_paths(p, mine, policy.config) for p in problems]
                raise LabError(
                    f"Squid {build.version()} does not accept {policy.config} "
                    "(squid -k parse):\n  " + "\n  ".join(shown)
                )
        if replacing:
            processes.kill_squid(replacing)
        return processes.spawn(
            self.ns("proxy"),
            build.argv(["-N", "-f", str(seen / "squid.conf")], sq),
            self.state / "squid.out",
        )

    def _front_servers(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "internet": [{"service": "web", "address": t.WEB_IP, "port": 443},
                         {"service": "web", "address": t.WEB_IP, "port": 80}],
            # One server on every address of the namespace: the public fronts and each
            # interface endpoint's ENI (addresses that come and go with the layout);
            # the front tells them apart by the address a connection was accepted on.
            "aws": [{"service": "aws", "address": "0.0.0.0", "port": 443}],
        }

    def _start_dns(self, resolver: dns.Resolver, layout: EndpointLayout) -> int:
        conf = self.state / f"dns-{resolver.name}.conf"
        log = self.state / DNS_LOGS[resolver.name]
        conf.write_text(dns.render(resolver, layout, log, self.web_host, self.names))
        log.touch()
        argv = [
            "dnsmasq",
            "--keep-in-foreground",
            f"--conf-file={conf}",
            "--user=root",
            "--pid-file=",
        ]
        return processes.spawn(
            self.ns(resolver.place), argv, self.state / f"dns-{resolver.name}.out"
        )

    def _checks(self) -> list[tuple[str, str, str, int]]:
        """(service, place to check from, address, port) — each checked from inside a
        lab namespace that should reach it."""
        return [
            ("squid", "proxy", "", t.SQUID_PORT),
            ("dns-lambda-vpc", "lambda", t.LAMBDA_RESOLVER, 53),
            ("dns-proxy-vpc", "proxy", t.PROXY_RESOLVER, 53),
            ("dns-public", "proxy", t.PUBLIC_DNS_IP, 53),
            ("fronts-internet", "proxy", t.WEB_IP, 443),
            ("fronts-internet-http", "proxy", t.WEB_IP, 80),
            ("fronts-aws", "proxy", t.S3_IP, 443),
        ]

    def _health(self, only: set[str] | None = None) -> dict[str, bool]:
        """Each check's answer (``only``: just those services), all checked at once."""
        checks = [c for c in self._checks() if only is None or c[0] in only]

        def answer(place: str, address: str, port: int) -> bool:
            check = (
                (lambda: _listening(port)) if not address else (lambda: _tcp_ok(address, port))
            )
            try:
                return netns.call_in(self.ns(place), check)
            except (OSError, TimeoutError):
                return False

        answers = _parallel([
            (lambda p=place, a=address, n=port: answer(p, a, n))
            for _service, place, address, port in checks
        ])
        return {c[0]: ok for c, ok in zip(checks, answers, strict=True)}

    def healthy(self) -> bool:
        return self._is_up() and all(self._health().values())

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        health: dict[str, bool] = {}
        while time.monotonic() < deadline:
            # A service that answered stays answered: ask again only the others.
            health.update(self._health({s for s, ok in health.items() if not ok} or None))
            if all(health.values()):
                return
            dead = [
                s for s, pid in self._saved().get("pids", {}).items() if not processes.alive(pid)
            ]
            if dead:
                raise LabError(
                    f"lab service(s) exited during start-up: {', '.join(dead)}\n"
                    + self._tails(dead)
                )
            time.sleep(0.02)
        bad = [s for s, ok in health.items() if not ok]
        raise LabError(
            f"lab services not answering after {timeout_s:.0f}s: {', '.join(bad)}\n"
            + self._tails(bad)
        )

    def _tails(self, services: list[str]) -> str:
        """The last lines each failing service wrote, for the error message."""
        chunks = []
        for s in services:
            logs = [self.state / f"{s}.out"]
            if s == "squid":
                logs.append(self.state / "squid" / "cache.log")
            for f in logs:
                if f.exists():
                    text = f.read_text(errors="replace").strip().splitlines()[-8:]
                    chunks.append(f"--- {f}:\n" + "\n".join(text))
        return "\n".join(chunks)

    # ---------------------------------------------------------------- apply
    def apply(self, endpoints: EndpointLayout) -> None:
        old = self.layout
        if endpoints == old:
            return
        if not self._is_up():
            raise LabError(f"lab {self.name!r} is not up: run `proxylab lab up` first")
        for place, route in t.layout_routes(old):
            netns.ip("-n", self.ns(place), "route", "del", route[0], check=False)
        for place, dev, addr in t.layout_addresses(old):
            netns.ip("-n", self.ns(place), "addr", "del", addr, "dev", dev, check=False)
        for place, dev, addr in t.layout_addresses(endpoints):
            netns.ip("-n", self.ns(place), "addr", "add", addr, "dev", dev)
        for place, route in t.layout_routes(endpoints):
            netns.ip("-n", self.ns(place), "route", "replace", *route)
        pids = dict(self._saved().get("pids", {}))
        new_squid = endpoints.proxy != old.proxy
        if new_squid:
            why_not = squid.get(endpoints.proxy.squid).available()
            if why_not:
                raise LabError(why_not)
        for resolver in dns.RESOLVERS:
            new_conf = dns.render(
                resolver, endpoints, self.state / DNS_LOGS[resolver.name], self.web_host,
                self.names,
            )
            conf = self.state / f"dns-{resolver.name}.conf"
            if conf.exists() and conf.read_text() == new_conf:
                continue
            # dnsmasq reads address=/ rules only at start: restart this resolver.
            pid = pids.get(f"dns-{resolver.name}")
            if pid:
                processes.terminate(pid)
            pids[f"dns-{resolver.name}"] = self._start_dns(resolver, endpoints)
            if resolver.name == "public":
                # Squid caches DNS answers, failures included (negative_dns_ttl is at
                # least 1 s, 1 min by default): a new public view needs a fresh Squid.
                new_squid = True
        if new_squid:
            pids["squid"] = self._start_squid(endpoints.proxy, replacing=pids.get("squid"))
        self._save(endpoints=endpoints.to_dict(), pids=pids)
        self._wait_healthy(10)

    # ---------------------------------------------------------------- describe
    def describe(self) -> LabDescription:
        saved = self._saved()
        up = self._is_up()
        layout = self.layout
        places = []
        # Every place's `ip addr` and `ip route` at once: one `ip` process each, run
        # side by side (in turn they were half of every run's describe).
        def show(ns: str, *what: str) -> Callable[[], str]:
            return lambda: netns.ip("-n", ns, *what, check=False).stdout

        shown = _parallel([
            show(self.ns(place), *what)
            for place in t.PLACES for what in (("-4", "-br", "addr"), ("route",))
        ]) if up else []
        for i, place in enumerate(t.PLACES):
            ns = self.ns(place)
            addrs: list[str] = []
            routes: list[str] = []
            if up:
                for line in shown[2 * i].splitlines():
                    parts = line.split()
                    dev = parts[0].split("@")[0] if parts else ""
                    addrs += [f"{dev} {a}" for a in parts[2:] if not a.startswith("127.")]
                routes = [r.strip() for r in shown[2 * i + 1].splitlines()]
            places.append(Place(place, t.STANDS_FOR[place], addrs, routes, ns))
        services: list[Service] = []
        if not up:
            # Parts of a lab that is not (or no longer) whole: what `lab status` names.
            services = [Service(part, "", "", False, "missing") for part in self.missing_parts()]
        if up:
            health = self._health()
            where = {s: (p, f"{a}:{port}") for s, p, a, port in self._checks()}
            pids = saved.get("pids", {})
            for svc, pid in pids.items():
                check_place, address = where.get(svc, ("", ""))
                ok = processes.alive(pid) and health.get(svc, True)
                services.append(Service(svc, _service_place(svc), address, ok, f"pid {pid}"))
        return LabDescription(
            backend="local",
            name=self.name,
            region=self.region,
            up=up,
            places=places,
            services=services,
            endpoints=layout,
            resources=self.resources(),
            plumbing_env=self.plumbing_env() if up else {},
        )

    def resources(self) -> dict[str, str]:
        names = self.names
        return {
            "region": self.region,
            "account_id": t.ACCOUNT_ID,
            "bucket": t.BUCKET,
            "source_key": t.SOURCE_KEY,
            "regional_api_id": t.REGIONAL_API_ID,
            "private_api_id": t.PRIVATE_API_ID,
            "regional_api_url": names.api_url(t.REGIONAL_API_ID),
            "private_api_url": names.api_url(t.PRIVATE_API_ID),
            "execute_api_vpce_id": t.EXECUTE_API_VPCE_ID,
            "execute_api_vpce_host": names.vpce_api_host(t.EXECUTE_API_VPCE_ID),
            "s3_gateway_vpce_id": t.S3_GATEWAY_VPCE_ID,
            "dynamodb_gateway_vpce_id": t.DYNAMODB_GATEWAY_VPCE_ID,
            "s3_vpce_id": t.vpce_id("s3"),
            "s3_vpce_host": names.vpce_host("s3"),
            "private_api_alias_host":
                f"{t.PRIVATE_API_ID}-{t.EXECUTE_API_VPCE_ID}.{names.execute_api}",
            "secret_id": t.SECRET_ID,
            "table_name": t.TABLE_NAME,
            "proxy_url": f"http://{t.SQUID_IP}:{t.SQUID_PORT}",
            "web_url": f"https://{self.web_host}",
            "function_ip": t.FUNCTION_IP,
            "proxy_ip": t.SQUID_IP,
            "s3_endpoint_url": f"https://{names.s3_regional}",
            "execute_api_endpoint_url": f"https://{names.execute_api}",
            "squid_version": squid.get(self.layout.proxy.squid).version(),
            # Which build of this lab a run used (its `up` time): two captures with
            # different generations ran on different labs, whatever their name.
            "lab_generation": f"{self._saved().get('started_at', 0):.3f}",
        }

    # ---------------------------------------------------------------- runs
    def _evidence_files(self) -> dict[str, Path]:
        files = {
            "proxy_access.log": self.state / "squid" / "access.log",
            "services.log": self.state / "services.log",
        }
        for name, fname in DNS_LOGS.items():
            files[f"dns:{name}"] = self.state / fname
        return files

    def mark(self) -> EvidenceMark:
        return EvidenceMark(
            taken_at=time.time(),
            positions={
                k: (p.stat().st_size if p.exists() else 0)
                for k, p in self._evidence_files().items()
            },
        )

    def collect(self, mark: EvidenceMark, invocation: Invocation | None = None) -> Evidence:
        files = self._evidence_files()
        _wait_quiet([files["proxy_access.log"], files["services.log"]], busy=self._squid_busy)
        evidence = Evidence(files={"proxy_access.log": [], "dns.log": [], "services.log": []})
        for key, path in files.items():
            lines = _read_from(path, mark.positions.get(key, 0))
            if key.startswith("dns:"):
                resolver = key.split(":", 1)[1]
                evidence.files["dns.log"] += [f"{resolver}\t{line}" for line in lines]
            else:
                evidence.files[key] = lines
            if not path.exists():
                evidence.missing.append(f"{key}: {path} does not exist")
        return evidence

    def _squid_busy(self) -> bool:
        """Squid has a client connection it has not closed (and so not logged) yet;
        False when that cannot be seen (a lab half gone): the quiet wait still holds."""
        try:
            return netns.call_in(self.ns("proxy"), lambda: sockdiag.connections_open(t.SQUID_PORT))
        except (OSError, TimeoutError):
            return False

    def invoke(
        self,
        function: str,
        env: dict[str, str],
        event: dict[str, Any],
        timeout_s: float,
        code: FunctionCode | None = None,
    ) -> Invocation:
        from proxylab.labs.local.function import invoke_in_lab

        if not self._is_up():
            raise LabError(f"lab {self.name!r} is not up: run `proxylab lab up` first")
        return invoke_in_lab(self, function, env, event, timeout_s, code=code)

    def attach(self, resources: str | None = None) -> LabDescription:
        """Refused: a local lab is only ever one this machine built with `up`."""
        raise LabError(
            "the local backend has nothing to attach to: it only runs labs it builds itself "
            "(`proxylab lab up`); attach adopts an existing AWS stack (--backend aws)"
        )

    def function_configuration(self, variant: str) -> dict[str, str]:
        """The probe deployment's own variables (BUCKET_NAME, API_GATEWAY_URL, ...)."""
        from proxylab.labs.local.function import configuration

        return configuration(variant, self.web_host, self.names)

    def exec(
        self,
        place: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> int:
        return self.run(place, argv, env=env, timeout_s=timeout_s).returncode

    def exec_env(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """What `lab exec` gives a command: a clean environment, the lab CA, lab
        credentials and region, then the caller's (scenario's) variables."""
        return processes.clean_env(
            {
                **self.plumbing_env(),
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                **DEFAULT_CREDENTIALS,
                **(env or {}),
            }
        )

    def run(
        self,
        place: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        timeout_s: float | None = None,
        capture: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside ``place``; with ``capture`` its output is returned."""
        if place not in t.PLACES:
            raise LabError(f"unknown place {place!r}: choose one of {', '.join(t.PLACES)}")
        if not self._is_up():
            raise LabError(f"lab {self.name!r} is not up: run `proxylab lab up` first")
        if not argv:
            raise LabError("nothing to run: give a command after `--`")
        try:
            return subprocess.run(
                netns.exec_prefix(self.ns(place)) + argv,
                env=self.exec_env(env),
                timeout=timeout_s,
                capture_output=capture,
                text=True,
            )
        except FileNotFoundError:
            raise LabError(f"command not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise LabError(
                f"`{' '.join(argv)}` did not finish within {timeout_s}s (stopped)"
            ) from None

    # ---------------------------------------------------------------- down
    def down(self) -> list[str]:
        """Stop every process in the lab's namespaces, delete the namespaces (which
        deletes their veths and dummies), their /etc/netns files and the state dir.
        Works from any state, including after a crash or SIGKILL."""
        left: list[str] = []
        saved_ns = self._saved().get("namespaces") or []
        namespaces = list(dict.fromkeys([*saved_ns, *self.namespaces]))
        left += processes.stop_namespaces(namespaces)
        for ns in namespaces:
            netns.delete(ns)
            if netns.exists(ns):
                left.append(f"namespace {ns}")
        if self.state.exists():
            shutil.rmtree(self.state, ignore_errors=True)
        return left


def _parallel(calls: list[Callable[[], T]]) -> list[T]:
    """Call each of ``calls`` in a thread of its own, all at once; their results in
    order (the first exception, in order, is raised). For waits on other processes
    (``ip``, a connect in a namespace), which two cores overlap well."""
    if len(calls) <= 1:
        return [c() for c in calls]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(c) for c in calls]
        return [f.result() for f in futures]


def _user_paths(problem: str, lab_paths: set[str], user_path: str) -> str:
    """A parse problem with the lab's copy of the user's file named as the user's."""
    for p in lab_paths:
        problem = problem.replace(p, user_path)
    return problem


def _service_place(service: str) -> str:
    if service.startswith("dns-"):
        return next(r.place for r in dns.RESOLVERS if f"dns-{r.name}" == service)
    if service.startswith("fronts-"):
        return service.split("-", 1)[1]
    return "proxy"


def _sysctl(ns: str, key: str, value: str) -> None:
    # /proc/sys/net is per network namespace: write it from a thread inside ns.
    path = "/proc/sys/" + key.replace(".", "/")

    def write() -> None:
        try:
            with open(path, "w") as fh:
                fh.write(value)
        except FileNotFoundError:  # e.g. IPv6 disabled on the host
            pass

    netns.call_in(ns, write)


def _read_from(path: Path, offset: int) -> list[str]:
    if not path.exists():
        return []
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    # Only whole lines: a line still being written is not evidence yet.
    data = data[: data.rfind(b"\n") + 1]
    return data.decode("utf-8", errors="replace").splitlines()


def _wait_quiet(
    paths: list[Path],
    busy: Callable[[], bool] = lambda: False,
    quiet_s: float = 0.05,
    limit_s: float = 3.0,
) -> None:
    """Wait until the evidence is complete (bounded by ``limit_s``).

    Squid writes a CONNECT line only when its tunnel closes, so the run's last lines
    come after the function is gone: wait until Squid holds no client connection
    open (``busy``: by the function's death every one of them is closing) and then
    until the logs have not grown for ``quiet_s``. The fronts write their services
    line before they answer, so a function that has its answer finds it written.
    (A fixed 0.2 s of quiet was the whole rule before; measured, every line is
    already there when ``invoke`` returns.)
    """
    deadline = time.monotonic() + limit_s
    last = [p.stat().st_size if p.exists() else 0 for p in paths]
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.01)
        now = [p.stat().st_size if p.exists() else 0 for p in paths]
        if now != last or busy():
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet_s:
            return


def all_labs() -> list[str]:
    root = state_root()
    names = [p.name for p in root.iterdir() if (p / "lab.json").exists()] if root.exists() else []
    return sorted(set(names) | {DEFAULT_NAME})
