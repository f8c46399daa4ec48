"""Block public access: GetBlockPublicAccessConfiguration,
PutBlockPublicAccessConfiguration, and the check RunJobFlow makes with it.

EMR refuses to start a cluster whose security groups let the whole internet
(0.0.0.0/0 or ::/0) in on a port the configuration does not permit. An elmr
cluster's "security groups" are the addresses its nodes listen on: the local
provider puts every node on a loopback address, which nothing outside the host
reaches, so such a cluster has no public rule and passes, as it would on EMR.
`violations` is the rule itself, for rules that are public."""

from dataclasses import dataclass

from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException
from elmr.store.models import BlockPublicAccess

# What every account has until it puts its own: public rules blocked but for SSH.
DEFAULT_CONFIGURATION = {
    "BlockPublicSecurityGroupRules": True,
    "PermittedPublicSecurityGroupRuleRanges": [{"MinRange": 22, "MaxRange": 22}],
}
_ROW_ID = 1
_PUBLIC_SOURCES = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class IngressRule:
    """One inbound rule: a source range and the ports it opens."""

    source: str  # CIDR
    from_port: int
    to_port: int


def _root_arn(ctx: ServiceContext) -> str:
    return f"arn:aws:iam::{ctx.account_id}:root"


def get_block_public_access_configuration(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.read() as session:
        row = session.get(BlockPublicAccess, _ROW_ID)
        if row is None:  # the store's migration writes the default; this is a store without it
            return {"BlockPublicAccessConfiguration": DEFAULT_CONFIGURATION,
                    "BlockPublicAccessConfigurationMetadata": {
                        "CreationDateTime": ctx.clock(), "CreatedByArn": _root_arn(ctx)}}
        return {"BlockPublicAccessConfiguration": row.configuration,
                "BlockPublicAccessConfigurationMetadata": {
                    "CreationDateTime": row.created_at, "CreatedByArn": row.created_by_arn}}


def put_block_public_access_configuration(ctx: ServiceContext, params: dict) -> dict:
    configuration = params["BlockPublicAccessConfiguration"]
    ranges = [_port_range(r) for r in configuration.get("PermittedPublicSecurityGroupRuleRanges") or []]
    stored = {"BlockPublicSecurityGroupRules": configuration["BlockPublicSecurityGroupRules"],
              "PermittedPublicSecurityGroupRuleRanges": ranges}
    with ctx.store.transaction() as session:
        row = session.get(BlockPublicAccess, _ROW_ID)
        if row is None:
            session.add(BlockPublicAccess(id=_ROW_ID, configuration=stored, created_at=ctx.clock(),
                                          created_by_arn=_root_arn(ctx)))
        else:
            row.configuration, row.created_at = stored, ctx.clock()
    return {}


def _port_range(port_range: dict) -> dict:
    low = port_range["MinRange"]
    high = port_range.get("MaxRange", low)
    if not 0 <= low <= high <= 65535:
        raise InvalidRequestException(
            f"PermittedPublicSecurityGroupRuleRanges: the range {low}-{high} is not valid; "
            "MinRange must be at most MaxRange, both between 0 and 65535.")
    return {"MinRange": low, "MaxRange": high}


def violations(configuration: dict, rules: list[IngressRule]) -> list[IngressRule]:
    """The public rules the configuration does not permit."""
    if not configuration["BlockPublicSecurityGroupRules"]:
        return []
    permitted = configuration.get("PermittedPublicSecurityGroupRuleRanges") or []

    def allowed(rule: IngressRule) -> bool:
        return any(r["MinRange"] <= rule.from_port and rule.to_port <= r.get("MaxRange", r["MinRange"])
                   for r in permitted)

    return [rule for rule in rules if rule.source in _PUBLIC_SOURCES and not allowed(rule)]


def cluster_ingress_rules(request: dict) -> list[IngressRule]:
    """The inbound rules a new cluster's nodes will have. elmr's nodes listen on
    loopback addresses only: none of their ports is reachable from outside."""
    return []


def check_cluster(session, request: dict) -> None:
    """RunJobFlow's check: refuse a cluster with a public rule the account blocks."""
    row = session.get(BlockPublicAccess, _ROW_ID)
    configuration = row.configuration if row is not None else DEFAULT_CONFIGURATION
    blocked = violations(configuration, cluster_ingress_rules(request))
    if blocked:
        ports = ", ".join(f"{rule.from_port}-{rule.to_port}" for rule in blocked)
        raise ValidationException(
            "The EC2 Security Group contains rules that allow public access to ports "
            f"{ports}, which block public access for this account does not permit.")
