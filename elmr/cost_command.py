"""`elmr cost [CLUSTER]`: what clusters cost, as the running server bills them
(elmr/market/cost_report.py): without a cluster, one line per cluster and the total;
with one, its cost per instance group or fleet (and a fleet's per instance type and
market), per market and per step, and per instance."""

import json
import sys
from pathlib import Path

from elmr.admin_client import DEFAULT_DATA_DIR, AdminClient, AdminError
from elmr.admin_protocol import COST_PATH


def add_parser(commands) -> None:
    cost = commands.add_parser("cost", help="what clusters cost: per cluster, group, market and step")
    cost.add_argument("cluster_id", nargs="?")
    cost.add_argument("--json", action="store_true", help="print the server's JSON answer")
    cost.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    cost.add_argument("--endpoint-url", help="the server's URL (default: from the data dir)")
    cost.set_defaults(run=run)


def run(args) -> int:
    try:
        client = AdminClient.for_data_dir(args.data_dir, args.endpoint_url)
        report = client.get(COST_PATH, [("ClusterId", args.cluster_id)] if args.cluster_id else [])
    except AdminError as refused:
        print(f"elmr cost: {refused}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=1))
    elif args.cluster_id:
        _print_cluster(report["Clusters"][0])
    else:
        _print_clusters(report)
    return 0


def usd(amount: float) -> str:
    return f"${amount:,.6f}"


def _print_clusters(report: dict) -> None:
    row = "{:<16} {:<20} {:<22} {:>14} {:>6}"
    print(row.format("CLUSTER", "NAME", "STATE", "COST", "NIH"))
    for cluster in report["Clusters"]:
        print(row.format(cluster["ClusterId"], cluster["Name"][:20], cluster["State"],
                         usd(cluster["CostUsd"]), cluster["NormalizedInstanceHours"]))
    print(f"total {usd(report['CostUsd'])} as of {report['AsOf']}")


def _print_cluster(cluster: dict) -> None:
    print(f"{cluster['ClusterId']} {cluster['Name']} ({cluster['State']}, {cluster['AvailabilityZone']}): "
          f"{usd(cluster['CostUsd'])} = EC2 {usd(cluster['Ec2CostUsd'])} + EMR {usd(cluster['EmrCostUsd'])}, "
          f"{cluster['NormalizedInstanceHours']} normalized instance hours")
    if cluster["InstanceGroups"]:
        print("instance groups:")
    for group in cluster["InstanceGroups"]:
        print(f"  {group['InstanceGroupId']:<16} {group['InstanceGroupType']:<6} {group['InstanceType']:<12} "
              f"{group['Market']:<9} {_spend(group)}")
    if cluster["InstanceFleets"]:
        print("instance fleets:")
    for fleet in cluster["InstanceFleets"]:
        print(f"  {fleet['InstanceFleetId']:<16} {fleet['InstanceFleetType']:<6} {_spend(fleet)}")
        for part in fleet["InstanceTypes"]:
            print(f"    {part['InstanceType']:<12} {part['Market']:<9} {_spend(part)}")
    print("markets:")
    for market in cluster["Markets"]:
        print(f"  {market['Market']:<9} {_spend(market)}")
    print("steps (each second's cost shared by the steps running then):")
    for step in cluster["Steps"]:
        print(f"  {step['StepId']:<16} {step['Name'][:24]:<24} {step['State']:<11} {step['Seconds']:>7} s "
              f"{usd(step['CostUsd']):>14}")
    print(f"  {'outside steps':<63} {usd(cluster['OutsideStepsCostUsd']):>14}")
    print("instances:")
    for node in cluster["Instances"]:
        taken = ", interrupted by EC2" if node["InterruptedByEc2"] else ""
        print(f"  {node['Ec2InstanceId']:<20} {node['InstanceType']:<12} {node['Market']:<9} "
              f"{node['Seconds']:>7} s (billed {node['BilledSeconds']} s{taken}) {usd(node['CostUsd']):>14}")
    if cluster["UnpricedInstanceTypes"]:
        print(f"not priced (not in the catalog): {', '.join(cluster['UnpricedInstanceTypes'])}")


def _spend(part: dict) -> str:
    return (f"{part['InstanceCount']} instance(s), {part['InstanceSeconds']} s: {usd(part['CostUsd'])} "
            f"(EC2 {usd(part['Ec2CostUsd'])} + EMR {usd(part['EmrCostUsd'])})")
