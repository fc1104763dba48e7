"""What the AWS lab costs per hour while it stands, from a small table of list prices.

The numbers are on-demand list prices (USD, Linux) written down by hand from the
AWS pricing pages in 2025; they are an order of magnitude for a confirmation
prompt, not a bill. docs/aws.md lists them with their sources; check the pricing
pages for today's figures. Per-use charges (Lambda requests, API Gateway calls,
CloudWatch Logs ingestion, S3 requests) are a few cents for a whole campaign of runs
and are shown as "per use".
"""

from __future__ import annotations

from dataclasses import dataclass

# region -> item -> USD per hour (per GB-month for gp3)
PRICES: dict[str, dict[str, float]] = {
    "ap-northeast-1": {
        "t4g.nano": 0.0054,
        "t4g.micro": 0.0108,
        "t3.nano": 0.0068,
        "t3.micro": 0.0136,
        "interface_endpoint_az_hour": 0.014,
        "public_ipv4_hour": 0.005,
        "gp3_gb_month": 0.096,
        "nat_gateway_hour": 0.062,
    },
    "us-east-1": {
        "t4g.nano": 0.0042,
        "t4g.micro": 0.0084,
        "t3.nano": 0.0052,
        "t3.micro": 0.0104,
        "interface_endpoint_az_hour": 0.01,
        "public_ipv4_hour": 0.005,
        "gp3_gb_month": 0.08,
        "nat_gateway_hour": 0.045,
    },
}
PRICE_TABLE_REGION_FALLBACK = "ap-northeast-1"
ROOT_VOLUME_GB = 8  # Amazon Linux 2023 AMI default root volume (gp3)
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class CostLine:
    item: str
    usd_per_hour: float | None  # None: charged per use, not per hour
    note: str = ""


def estimate(
    region: str,
    instance_type: str,
    interface_endpoints: int,
) -> tuple[list[CostLine], float, str]:
    """Hourly lines, their total, and a note when the region's prices are borrowed."""
    note = ""
    prices = PRICES.get(region)
    if prices is None:
        prices = PRICES[PRICE_TABLE_REGION_FALLBACK]
        note = (
            f"no price table for {region}: showing {PRICE_TABLE_REGION_FALLBACK} prices "
            "(see docs/aws.md)"
        )
    lines: list[CostLine] = []
    ec2 = prices.get(instance_type)
    lines.append(
        CostLine(
            f"EC2 {instance_type} (Squid)",
            ec2,
            "" if ec2 is not None else "instance type not in the price table",
        )
    )
    lines.append(
        CostLine(
            f"EBS gp3 {ROOT_VOLUME_GB} GB (root volume)",
            round(prices["gp3_gb_month"] * ROOT_VOLUME_GB / HOURS_PER_MONTH, 5),
        )
    )
    lines.append(CostLine("public IPv4 address (Squid's way out)", prices["public_ipv4_hour"]))
    if interface_endpoints:
        lines.append(
            CostLine(
                f"VPC interface endpoints x{interface_endpoints} (one AZ each)",
                prices["interface_endpoint_az_hour"] * interface_endpoints,
            )
        )
    lines.append(CostLine("S3 gateway endpoint", 0.0, "free"))
    lines.append(
        CostLine(
            "NAT gateway",
            0.0,
            f"none: the Lambda VPC has no NAT (would be ${prices['nat_gateway_hour']}/h)",
        )
    )
    lines.append(
        CostLine("Lambda, API Gateway, S3, CloudWatch Logs", None, "per use: cents per campaign")
    )
    total = sum(line.usd_per_hour or 0.0 for line in lines)
    return lines, total, note


def render(lines: list[CostLine], total: float, note: str = "") -> str:
    width = max(len(line.item) for line in lines)
    out = [f"{'item':<{width}}  USD/hour  note"]
    for line in lines:
        price = "per use" if line.usd_per_hour is None else f"{line.usd_per_hour:.4f}"
        out.append(f"{line.item:<{width}}  {price:>8}  {line.note}".rstrip())
    out.append(
        f"{'total (while the stack exists)':<{width}}  {total:>8.4f}  ~${total * 24:.2f}/day"
    )
    if note:
        out.append(f"note: {note}")
    return "\n".join(out)
