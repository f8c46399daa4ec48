"""What clusters cost (`elmr cost`, GET /elmr/v1/cost): one cluster's report, or every
cluster's, computed from the store's rows as of the server's clock
(elmr/market/cost_report.py)."""

from elmr.market.cost_report import cost_report
from elmr.service import lookups
from elmr.service.context import ServiceContext


def describe_cost(ctx: ServiceContext, params: dict) -> dict:
    with ctx.store.transaction() as session:
        cluster_ids = None
        if params.get("ClusterId"):
            cluster_ids = [lookups.cluster(session, params["ClusterId"]).id]
        return cost_report(session, ctx.market.region, ctx.clock(), cluster_ids)
