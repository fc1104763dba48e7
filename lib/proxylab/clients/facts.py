"""The client matrix as typed facts for the report: per client, the answer to each
:class:`~proxylab.vocab.Behaviour` question (the route of the one case that asks it),
the summary counts, and the changes since a previous run. No sentences here: the
words are in :mod:`proxylab.clients.words` (one module per language).
"""

from __future__ import annotations

from dataclasses import dataclass

from proxylab.clients.matrix import Matrix
from proxylab.vocab import Agreement, Behaviour, MeasuredRoute

# Which case answers which question (the route it took is the answer).
BEHAVIOUR_CASES: dict[Behaviour, str] = {
    Behaviour.READS_ENV: "https-lower",
    Behaviour.UPPER_HTTP_PROXY: "http-upper",
    Behaviour.LOWER_WINS: "lower-vs-upper",
    Behaviour.EMPTY_LOWER_CANCELS: "empty-lower",
    Behaviour.NO_PROXY_LOWER_WINS: "no-proxy-lower-vs-upper",
    Behaviour.DOT_MATCHES_APEX: "no-proxy-dot-apex",
    Behaviour.STAR_IN_LIST: "no-proxy-star-list",
    Behaviour.GLOB: "no-proxy-glob",
    Behaviour.CIDR_IP: "no-proxy-cidr",
    Behaviour.CIDR_NAME: "no-proxy-cidr-name",
    Behaviour.HOST_PORT: "no-proxy-host-port",
    Behaviour.BUCKET_HOST: "no-proxy-bucket",
    Behaviour.HTTPS_PROXY_URL: "https-scheme",
    Behaviour.NO_SCHEME: "no-scheme",
}


@dataclass(frozen=True)
class BehaviourFact:
    client: str
    version: str
    behaviour: Behaviour
    route: MeasuredRoute
    case: str
    agrees: bool  # the client's rule predicted this route

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.client, str(self.behaviour), str(self.route))


@dataclass(frozen=True)
class Summary:
    cells: int
    ran: int
    agrees: int
    differs: int
    no_rule: int
    rechecked: int
    not_installed: tuple[tuple[str, str], ...]  # (client, install command)
    wall_s: float | None

    @property
    def key(self) -> tuple[int, int, int, int, int]:
        return (self.ran, self.agrees, self.differs, self.no_rule, len(self.not_installed))


@dataclass(frozen=True)
class Change:
    """One cell's route, or one client's version, differing from the previous run."""

    client: str
    case: str  # "" for a version change
    before: str | None  # route or version; None: absent then
    after: str | None
    before_version: str | None = None
    after_version: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.client, self.case, str(self.before), str(self.after))


def behaviours(matrix: Matrix) -> list[BehaviourFact]:
    """Every (client, question) the run answered, in client then question order."""
    out = []
    case_ids = {c["id"] for c in matrix.cases}
    for client in matrix.clients:
        for behaviour, case in BEHAVIOUR_CASES.items():
            if case not in case_ids:
                continue
            cell = matrix.cell(client["name"], case)
            if cell.route is None:
                continue
            out.append(BehaviourFact(client["name"], cell.version or "", behaviour, cell.route,
                                     case, cell.agreement == Agreement.AGREES))
    return out


def summary(matrix: Matrix) -> Summary:
    ran = [c for c in matrix.cells if c.route is not None]

    def count(a: Agreement) -> int:
        return sum(1 for c in ran if c.agreement == a)

    missing = tuple((c["name"], c["install"]) for c in matrix.clients if c["version"] is None)
    return Summary(len(matrix.cells), len(ran), count(Agreement.AGREES),
                   count(Agreement.DIFFERS), count(Agreement.NO_RULE),
                   sum(1 for c in ran if c.rechecked), missing, matrix.meta.get("wall_s"))


def changes(before: Matrix, after: Matrix) -> list[Change]:
    """What differs from ``before``: client versions, then cell routes (cells present in
    both runs; a cell not run in one of them counts as absent there)."""
    out: list[Change] = []
    old_versions = {c["name"]: c["version"] for c in before.clients}
    for c in after.clients:
        if c["name"] in old_versions and old_versions[c["name"]] != c["version"]:
            out.append(Change(c["name"], "", old_versions[c["name"]], c["version"]))
    old = {(c.client, c.case): c for c in before.cells}
    for cell in after.cells:
        prev = old.get((cell.client, cell.case))
        if prev is None:
            continue
        a = str(cell.route) if cell.route else None
        b = str(prev.route) if prev.route else None
        if a != b:
            out.append(Change(cell.client, cell.case, b, a, prev.version, cell.version))
    return out
