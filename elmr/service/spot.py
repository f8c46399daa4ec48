"""The spot market driven by hand (`elmr spot`, /elmr/v1/spot…): each function takes
the request's JSON fields, checks them, and calls the market (elmr/market/by_hand.py)
in one transaction; the market's refusals become EMR's errors. A change wakes the
control loop, which acts on the market as it now is."""

from contextlib import contextmanager

from elmr.market import by_hand
from elmr.market.pools import MarketError, UnknownInstance
from elmr.service.context import ServiceContext
from elmr.service.errors import InvalidRequestException, ValidationException


def describe_market(ctx: ServiceContext, params: dict) -> dict:
    with _market_errors(), ctx.store.transaction() as session:
        return by_hand.market_view(session, ctx.market, ctx.clock(),
                                   params.get("InstanceTypes"), params.get("AvailabilityZones"))


def set_spot_price(ctx: ServiceContext, params: dict) -> dict:
    """Price: dollars per hour as text ("0.05"), or null for the series' price again."""
    with _market_errors(), ctx.store.transaction() as session:
        pool = _pool(ctx, params)
        answer = {"Pool": by_hand.set_price(session, ctx.market, pool, _required(params, "Price"), ctx.clock())}
    ctx.wake_reconciler()
    return answer


def set_spot_capacity(ctx: ServiceContext, params: dict) -> dict:
    """Capacity: how many spot instances the pool holds, or null for the series'."""
    with _market_errors(), ctx.store.transaction() as session:
        pool = _pool(ctx, params)
        answer = {"Pool": by_hand.set_capacity(session, ctx.market, pool, _required(params, "Capacity"),
                                               ctx.clock())}
    ctx.wake_reconciler()
    return answer


def interrupt_spot(ctx: ServiceContext, params: dict) -> dict:
    """InstanceId (i-… or ci-…) for one instance, or InstanceType and AvailabilityZone
    for every spot instance of that pool."""
    with _market_errors(), ctx.store.transaction() as session:
        if params.get("InstanceId"):
            notices = [by_hand.interrupt_instance(session, ctx.market, params["InstanceId"], ctx.clock())]
        else:
            notices = by_hand.interrupt_pool(session, ctx.market, _pool(ctx, params), ctx.clock())
        answer = {"Notices": [by_hand.notice_view(notice) for notice in notices]}
    ctx.wake_reconciler()
    return answer


def _pool(ctx: ServiceContext, params: dict):
    return by_hand.check_pool(ctx.market, _required(params, "InstanceType"),
                              _required(params, "AvailabilityZone"))


def _required(params: dict, name: str):
    if name not in params:
        raise ValidationException(f"{name} is required.")
    return params[name]


@contextmanager
def _market_errors():
    try:
        yield
    except UnknownInstance as error:
        raise InvalidRequestException(str(error)) from None
    except MarketError as error:
        raise ValidationException(str(error)) from None
