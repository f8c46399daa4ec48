"""`elmr spot`: the simulated spot market driven by hand, through the running server
(elmr/admin_protocol.py), for tests and teaching.

  elmr spot show [--type T]… [--zone Z]…      the market now, and the notices pending
  elmr spot price TYPE PRICE|--clear [--zone Z] set a pool's price (or give it back to the series)
  elmr spot capacity TYPE N|--clear [--zone Z]  set how many spot instances a pool holds
  elmr spot interrupt TYPE [--zone Z]           EC2's notice to every spot instance of a pool
  elmr spot interrupt i-…|ci-…                  … or to one instance

The zone defaults to the region's first (where a cluster without Placement runs)."""

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from elmr.admin_client import DEFAULT_DATA_DIR, AdminClient, AdminError
from elmr.admin_protocol import SPOT_CAPACITY_PATH, SPOT_INTERRUPT_PATH, SPOT_PATH, SPOT_PRICE_PATH

_POOL_COLUMNS = "{:<14} {:<12} {:>10} {:>10} {:>9} {:>7} {:>10}"


def add_parser(commands) -> None:
    spot = commands.add_parser("spot", help="drive the simulated spot market by hand")
    actions = spot.add_subparsers(dest="spot_action", required=True)

    show = actions.add_parser("show", help="the market now: prices, capacity, notices")
    show.add_argument("--type", action="append", dest="types", help="an instance type (repeatable)")
    show.add_argument("--zone", action="append", dest="zones", help="an availability zone (repeatable)")

    price = actions.add_parser("price", help="set a pool's spot price, in USD per hour")
    price.add_argument("instance_type")
    price.add_argument("price", nargs="?")

    capacity = actions.add_parser("capacity", help="set how many spot instances a pool holds")
    capacity.add_argument("instance_type")
    capacity.add_argument("capacity", nargs="?", type=int)

    interrupt = actions.add_parser("interrupt", help="interrupt a pool's spot instances, or one")
    interrupt.add_argument("target", help="an instance type, or an instance id (i-… or ci-…)")

    for setter in (price, capacity):
        setter.add_argument("--clear", action="store_true", help="back to the seeded series")
    for action in (show, price, capacity, interrupt):
        if action is not show:
            action.add_argument("--zone", help="availability zone (default: the region's first)")
        action.add_argument("--json", action="store_true", help="print the server's JSON answer")
        action.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
        action.add_argument("--endpoint-url", help="the server's URL (default: from the data dir)")
    spot.set_defaults(run=run)


def run(args) -> int:
    try:
        client = AdminClient.for_data_dir(args.data_dir, args.endpoint_url)
        answer = _call(client, args)
    except (AdminError, ValueError) as refused:
        print(f"elmr spot: {refused}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=1))
    elif "Pools" in answer:
        _print_market(answer)
    elif "Pool" in answer:
        _print_pools([answer["Pool"]])
    else:
        _print_notices(answer["Notices"], datetime.now(timezone.utc))
    return 0


def _call(client: AdminClient, args) -> dict:
    zone = getattr(args, "zone", None) or client.region + "a"
    if args.spot_action == "show":
        query = [("InstanceType", t) for t in args.types or []] + [("AvailabilityZone", z) for z in args.zones or []]
        return client.get(SPOT_PATH, query)
    if args.spot_action == "interrupt":
        if args.target.startswith(("i-", "ci-")):
            return client.post(SPOT_INTERRUPT_PATH, {"InstanceId": args.target})
        return client.post(SPOT_INTERRUPT_PATH, {"InstanceType": args.target, "AvailabilityZone": zone})
    field = "Price" if args.spot_action == "price" else "Capacity"
    value = getattr(args, args.spot_action)
    if args.clear == (value is not None):
        raise ValueError(f"give either a {field.lower()} or --clear")
    path = SPOT_PRICE_PATH if field == "Price" else SPOT_CAPACITY_PATH
    return client.post(path, {"InstanceType": args.instance_type, "AvailabilityZone": zone, field: value})


def _print_market(market: dict) -> None:
    settings = market["Settings"]
    print(f"spot market of {settings['Region']} at {market['At']}: seed {settings['Seed']}, "
          f"prices hold {settings['PricePeriodSeconds']} s, notice {settings['NoticeSeconds']:g} s")
    if market["Pools"]:
        _print_pools(market["Pools"])
    else:
        print("no pool in use or set by hand (elmr spot show --type TYPE shows one)")
    if market["Notices"]:
        print("interruption notices:")
        _print_notices(market["Notices"], datetime.fromisoformat(market["At"]))


def _print_pools(pools: list[dict]) -> None:
    print(_POOL_COLUMNS.format("TYPE", "ZONE", "ON-DEMAND", "SPOT", "CAPACITY", "IN USE", "AVAILABLE"))
    for pool in pools:
        print(_POOL_COLUMNS.format(
            pool["InstanceType"], pool["AvailabilityZone"], "$" + pool["OnDemandPrice"],
            "$" + pool["SpotPrice"] + ("*" if pool["PriceSetByHand"] else ""),
            str(pool["Capacity"]) + ("*" if pool["CapacitySetByHand"] else ""),
            pool["InUse"], pool["Available"]))
    if any(pool["PriceSetByHand"] or pool["CapacitySetByHand"] for pool in pools):
        print("(* set by hand)")


def _print_notices(notices: list[dict], now: datetime) -> None:
    if not notices:
        print("no live spot instance there: nothing interrupted")
    for notice in notices:
        takes_effect = datetime.fromisoformat(notice["TakesEffectAt"])
        left = (takes_effect - now).total_seconds()
        when = f"in {left:.0f} s" if left > 0 else "notice over"
        print(f"{notice['Ec2InstanceId']} ({notice['InstanceId']}, {notice['ClusterId']}) "
              f"{notice['InstanceType']} {notice['AvailabilityZone']}: {notice['Reason']}, "
              f"taken at {notice['TakesEffectAt']} ({when})")
