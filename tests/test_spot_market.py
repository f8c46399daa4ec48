"""The simulated spot market on a real market_store and an injected clock: the seeded
series (reproducible, capped at the on-demand price), capacity and launches, EC2's
interruption notice and its timing, and the market driven by hand."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal

import pytest

from elmr import catalog
from elmr.market import by_hand
from elmr.market.history import MarketHistory, second_of
from elmr.market.interruptions import spot_pass
from elmr.market.launches import launch_quote
from elmr.market.pools import MarketError, Pool, UnknownInstance
from elmr.market.series import Series, on_demand_price
from elmr.market.settings import start_epoch
from elmr.store.market_models import SpotMarketEpoch
from elmr.store.models import Instance
from market_rows import SETTINGS, T0, add_cluster, add_group, add_instance, at

POOL = Pool("m5.xlarge", "us-east-1a")
SERIES_SCRIPT = """
import json
from elmr.market.series import Series, on_demand_price
from elmr.market.pools import Pool
series = Series(5, 300)
pools = [Pool(t, z) for t in ("m5.xlarge", "r6g.2xlarge") for z in ("us-east-1a", "us-east-1d")]
print(json.dumps([[str(series.price(p, k)), series.capacity(p, k)] for p in pools for k in range(5890896, 5890936)]))
"""


def spot_nodes(market_store, count: int, zone: str | None = None, bid_price: str | None = None,
               cluster_id: str = "j-SPOT", start_s: float = 0) -> list[str]:
    """A cluster whose spot task group has `count` live instances, launched a minute apart."""
    with market_store.transaction() as session:
        add_cluster(session, cluster_id, zone=zone)
        group = add_group(session, cluster_id, "ig-" + cluster_id, "TASK", market="SPOT", bid_price=bid_price)
        return [add_instance(session, group, f"ci-{cluster_id}-{n}", start_s + 60 * n).id for n in range(count)]


def test_the_same_seed_gives_the_same_market_in_any_process():
    """Two processes with different hash seeds compute the same series (nothing
    depends on Python's per-process hash()), and another seed gives another one."""
    answers = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run([sys.executable, "-c", SERIES_SCRIPT], env=env, capture_output=True,
                             text=True, check=True, timeout=120)
        answers.append(json.loads(run.stdout))
    assert answers[0] == answers[1]
    other = Series(6, 300)
    pools = [Pool(t, z) for t in ("m5.xlarge", "r6g.2xlarge") for z in ("us-east-1a", "us-east-1d")]
    other_prices = [str(other.price(p, k)) for p in pools for k in range(5890896, 5890936)]
    assert sum(a != b for a, (b, _) in zip(other_prices, answers[0])) > len(other_prices) // 2


def test_prices_vary_stay_under_the_on_demand_cap_and_reach_it_in_a_crunch():
    series = Series(5, 300)
    for instance_type in catalog.instance_types():
        pool = Pool(instance_type.type, "us-east-1b")
        cap = on_demand_price(instance_type.type)
        prices = [series.price(pool, k) for k in range(5890896, 5890896 + 288)]  # one day
        assert all(Decimal(0) < price <= cap for price in prices), instance_type.type
        assert len(set(prices)) > 10  # it moves
        assert all(0 <= series.capacity(pool, k) <= series.pool_size(pool) for k in range(5890896, 5890996))
    crunch = next(k for k in range(5890896, 5890896 + 100_000) if series.scarcity(POOL, k) == 1.0)
    assert series.price(POOL, crunch) == Decimal("0.192")
    assert series.capacity(POOL, crunch) == 0


def test_a_price_set_by_hand_holds_from_then_until_cleared(market_store):
    series = Series(5, 300)
    with market_store.transaction() as session:
        by_hand.set_price(session, SETTINGS, POOL, "0.05", at(1000))
        by_hand.set_price(session, SETTINGS, POOL, None, at(2000))
    with market_store.transaction() as session:
        history = MarketHistory.load(session)
    assert history.price(POOL, second_of(at(999))).value == series.price(POOL, series.slot(second_of(at(999))))
    assert history.price(POOL, second_of(at(1000))) == history.price(POOL, second_of(at(1999)))
    assert history.price(POOL, second_of(at(1500))).value == Decimal("0.05")
    assert history.price(POOL, second_of(at(1500))).by_hand
    assert history.price(POOL, second_of(at(2000))).value == series.price(POOL, series.slot(second_of(at(2000))))
    segments = history.price_segments(POOL, second_of(at(900)), second_of(at(2100)))
    assert [(s.start - second_of(T0), s.end - second_of(T0)) for s in segments] == [
        (900, 1000), (1000, 2000), (2000, 2100)]
    assert segments[1].usd_per_hour == Decimal("0.05")
    other_zone = Pool("m5.xlarge", "us-east-1b")
    assert not history.price(other_zone, second_of(at(1500))).by_hand


def test_prices_over_the_cap_or_unknown_pools_are_refused(market_store):
    with market_store.transaction() as session:
        with pytest.raises(MarketError, match=r"at most its on-demand price, \$0.192/hour"):
            by_hand.set_price(session, SETTINGS, POOL, "0.1921", T0)
        with pytest.raises(MarketError, match="above \\$0"):
            by_hand.set_price(session, SETTINGS, POOL, "0", T0)
        with pytest.raises(MarketError, match="not a number"):
            by_hand.set_price(session, SETTINGS, POOL, "cheap", T0)
        with pytest.raises(MarketError, match="us-east-1a, us-east-1b"):
            by_hand.check_pool(SETTINGS, "m5.xlarge", "eu-west-1a")
        with pytest.raises(MarketError, match="not in elmr's catalog"):
            by_hand.check_pool(SETTINGS, "m5.huge", "us-east-1a")
        with pytest.raises(MarketError, match="whole number"):
            by_hand.set_capacity(session, SETTINGS, POOL, -1, T0)
        assert by_hand.set_price(session, SETTINGS, POOL, "0.192", T0)["SpotPrice"] == "0.192"


def test_a_new_seed_starts_an_epoch_and_leaves_past_prices_alone(market_store):
    before, after = second_of(at(-3600)), second_of(at(7200))
    with market_store.transaction() as session:
        assert start_epoch(session, SETTINGS, at(60)).starts_at == T0  # same settings: same epoch
        start_epoch(session, replace(SETTINGS, seed=6), at(3600))
        start_epoch(session, replace(SETTINGS, seed=None), at(5000))  # keeps the data dir's seed
        assert session.query(SpotMarketEpoch).count() == 2
        history = MarketHistory.load(session)
    assert history.price(POOL, before).value == Series(5, 300).price(POOL, before // 300)
    assert history.price(POOL, after).value == Series(6, 300).price(POOL, after // 300)


def test_a_launch_is_satisfiable_while_the_pool_has_free_capacity(market_store):
    spot_nodes(market_store, 2)
    spot_nodes(market_store, 3, zone="us-east-1b", cluster_id="j-OTHERZONE")  # another pool
    with market_store.transaction() as session:
        ended = add_instance(session, add_group(session, "j-SPOT", "ig-ENDED", "TASK", market="SPOT"), "ci-ENDED", 0, 30)
        on_demand = add_group(session, "j-SPOT", "ig-OD", "CORE")
        add_instance(session, on_demand, "ci-OD", 0)
        by_hand.set_capacity(session, SETTINGS, POOL, 3, T0)
    assert ended.state == "TERMINATED"
    with market_store.transaction() as session:
        one = launch_quote(session, SETTINGS, "m5.xlarge", "us-east-1a", 1, at(10))
        two = launch_quote(session, SETTINGS, "m5.xlarge", "us-east-1a", 2, at(10))
        by_hand.set_price(session, SETTINGS, POOL, "0.09", at(20))
        priced_out = launch_quote(session, SETTINGS, "m5.xlarge", "us-east-1a", 1, at(30), Decimal("0.08"))
    assert one.satisfiable and one.available == 1
    assert not two.satisfiable and "1 available, 2 requested" in two.reason
    assert not priced_out.satisfiable and priced_out.usd_per_hour == Decimal("0.09")
    assert "above the maximum price ($0.08/h)" in priced_out.reason


def test_capacity_falling_below_use_warns_the_newest_then_takes_them_after_the_notice(market_store):
    first, second, third = spot_nodes(market_store, 3)
    with market_store.transaction() as session:
        by_hand.set_capacity(session, SETTINGS, POOL, 1, at(600))
    with market_store.transaction() as session:
        before = spot_pass(session, SETTINGS, at(599))
        announced = spot_pass(session, SETTINGS, at(600))
    assert before.warn == [] and before.interrupt == []
    assert {n.instance_id for n in announced.warn} == {second, third}
    assert announced.interrupt == [] and announced.wake_at == at(720)
    notice = announced.warn[0]
    assert (notice.reason, notice.takes_effect_at) == ("capacity", at(720))
    assert notice.state_change_reason[0] == "INSTANCE_FAILURE"
    assert "reclaimed the Spot capacity of m5.xlarge in us-east-1a" in notice.state_change_reason[1]

    restarted = replace(SETTINGS, notice_s=5.0)  # a restart with a shorter notice moves nothing
    with market_store.transaction() as session:
        during = spot_pass(session, restarted, at(719))
        due = spot_pass(session, restarted, at(720))
        again = spot_pass(session, restarted, at(800))
        assert launch_quote(session, SETTINGS, "m5.xlarge", "us-east-1a", 1, at(720)).available == 0
    assert {n.instance_id for n in during.warn} == {second, third} and during.interrupt == []
    assert {n.instance_id for n in due.interrupt} == {second, third} and due.warn == []
    assert {n.instance_id for n in again.interrupt} == {second, third}  # until TERMINATED

    with market_store.transaction() as session:
        taken = session.get(Instance, third)
        taken.state, taken.ended_at = "TERMINATED", at(801)
    with market_store.transaction() as session:
        after = spot_pass(session, SETTINGS, at(802))
    assert [n.instance_id for n in after.interrupt] == [second]
    assert first not in {n.instance_id for n in after.warn + after.interrupt}


def test_the_notice_length_is_the_servers_setting(market_store):
    spot_nodes(market_store, 1)
    with market_store.transaction() as session:
        by_hand.set_capacity(session, SETTINGS, POOL, 0, T0)
        short = replace(SETTINGS, notice_s=5.0)
        warned = spot_pass(session, short, at(10))
        taken = spot_pass(session, short, at(15))
    assert [n.takes_effect_at for n in warned.warn] == [at(15)]
    assert len(taken.interrupt) == 1


def test_a_price_above_a_groups_maximum_interrupts_its_instances_only(market_store):
    capped = spot_nodes(market_store, 1, bid_price="0.05", cluster_id="j-CAPPED")
    spot_nodes(market_store, 1, cluster_id="j-UNCAPPED")
    with market_store.transaction() as session:
        by_hand.set_capacity(session, SETTINGS, POOL, 10, T0)
        by_hand.set_price(session, SETTINGS, POOL, "0.05", T0)
        at_the_bid = spot_pass(session, SETTINGS, at(60))
        by_hand.set_price(session, SETTINGS, POOL, "0.0501", at(100))
        above = spot_pass(session, SETTINGS, at(100))
    assert at_the_bid.warn == []
    assert [(n.instance_id, n.reason) for n in above.warn] == [(capped[0], "price")]
    assert "rose above the group's maximum price" in above.warn[0].state_change_reason[1]
    assert above.for_cluster("j-UNCAPPED").warn == []


def test_interrupting_by_hand_gives_the_notice_once(market_store):
    nodes = spot_nodes(market_store, 2)
    spot_nodes(market_store, 1, zone="us-east-1c", cluster_id="j-ELSEWHERE")
    with market_store.transaction() as session:
        ec2_id = session.get(Instance, nodes[0]).ec2_instance_id
        one = by_hand.interrupt_instance(session, SETTINGS, ec2_id, at(30))
        pool = by_hand.interrupt_pool(session, SETTINGS, POOL, at(50))
        with pytest.raises(UnknownInstance):
            by_hand.interrupt_instance(session, SETTINGS, "i-00000000000000000", at(50))
        passed = spot_pass(session, SETTINGS, at(60))
    assert (one.instance_id, one.reason, one.takes_effect_at) == (nodes[0], "by-hand", at(150))
    assert {(n.instance_id, n.takes_effect_at) for n in pool} == {(nodes[0], at(150)), (nodes[1], at(170))}
    assert {n.instance_id for n in passed.warn} == set(nodes)


def test_the_market_view_shows_pools_in_use_set_by_hand_and_notices(market_store):
    nodes = spot_nodes(market_store, 2)
    with market_store.transaction() as session:
        by_hand.set_capacity(session, SETTINGS, Pool("c5.xlarge", "us-east-1f"), 4, T0)
        by_hand.interrupt_instance(session, SETTINGS, nodes[1], at(10))
        view = by_hand.market_view(session, SETTINGS, at(20))
        one_type = by_hand.market_view(session, SETTINGS, at(20), ["r5.large"], ["us-east-1c"])
    pools = {(p["InstanceType"], p["AvailabilityZone"]): p for p in view["Pools"]}
    assert set(pools) == {("m5.xlarge", "us-east-1a"), ("c5.xlarge", "us-east-1f")}
    in_use = pools[("m5.xlarge", "us-east-1a")]
    assert in_use["InUse"] == 1  # the one under notice is leaving
    assert in_use["Available"] == in_use["Capacity"] - 1 and not in_use["PriceSetByHand"]
    assert pools[("c5.xlarge", "us-east-1f")]["Capacity"] == 4
    assert pools[("c5.xlarge", "us-east-1f")]["CapacitySetByHand"]
    assert [n["InstanceId"] for n in view["Notices"]] == [nodes[1]]
    assert view["Settings"] == {"Seed": 5, "PricePeriodSeconds": 300, "NoticeSeconds": 120.0,
                                "Region": "us-east-1"}
    assert [(p["InstanceType"], p["AvailabilityZone"]) for p in one_type["Pools"]] == [("r5.large", "us-east-1c")]
