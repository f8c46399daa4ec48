"""What one reconciler pass decides for a cluster: the provider actions for the
actuator, and when the cluster wants looking at again (the earliest deadline any
rule is waiting for: a retry, a grace period, a decommission or idle timeout)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class StartNode:
    """Allocate (once) and start the node's agent; adopting one already running."""

    instance_id: str


@dataclass(frozen=True)
class StopNode:
    instance_id: str
    force: bool  # SIGKILL now, after the grace period for SIGTERM ran out


@dataclass
class Plan:
    now: datetime
    actions: list = field(default_factory=list)
    recheck_at: datetime | None = None

    def act(self, action) -> None:
        self.actions.append(action)

    def recheck(self, at: datetime) -> None:
        """Look at the cluster again no later than `at`."""
        if self.recheck_at is None or at < self.recheck_at:
            self.recheck_at = at

    def recheck_in(self, seconds: float) -> None:
        self.recheck(self.now + timedelta(seconds=seconds))

    def recheck_after_s(self) -> float | None:
        if self.recheck_at is None:
            return None
        return max(0.0, (self.recheck_at - self.now).total_seconds())
