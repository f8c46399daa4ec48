"""The market's server settings (`elmr server --spot-seed … --spot-notice-seconds …
--spot-price-period …`), and the epoch they start in the store: the series of the
seconds before a change of seed keep the seed they had."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from elmr.store.market_models import SpotMarketEpoch

DEFAULT_SEED = 17
# EC2 warns two minutes before it takes a spot instance; tests and demos shorten it.
DEFAULT_NOTICE_S = 120.0
# Prices and capacities hold for a slot of this many seconds, then may move.
DEFAULT_PRICE_PERIOD_S = 300


@dataclass(frozen=True)
class MarketSettings:
    seed: int | None = None  # None: the data dir's seed (DEFAULT_SEED on a new one)
    notice_s: float = DEFAULT_NOTICE_S
    price_period_s: int = DEFAULT_PRICE_PERIOD_S
    region: str = "us-east-1"


def start_epoch(session: Session, settings: MarketSettings, now: datetime) -> SpotMarketEpoch:
    """The epoch the server runs in: the latest one when the settings do not change
    it, otherwise a new one from `now`."""
    latest = session.scalars(
        select(SpotMarketEpoch).order_by(SpotMarketEpoch.starts_at.desc(), SpotMarketEpoch.id.desc())
    ).first()
    seed = settings.seed if settings.seed is not None else (latest.seed if latest else DEFAULT_SEED)
    if latest is not None and (latest.seed, latest.price_period_s) == (seed, settings.price_period_s):
        return latest
    epoch = SpotMarketEpoch(starts_at=now, seed=seed, price_period_s=settings.price_period_s)
    session.add(epoch)
    session.flush()
    return epoch
