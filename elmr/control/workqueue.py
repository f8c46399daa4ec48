"""The control loop's work queue: cluster ids waiting to be reconciled, after Dask
Gateway's `workqueue.py`.

- Putting an item that is already waiting merges the two: a burst of heartbeats or
  API calls for one cluster costs one pass.
- An item being worked on is never handed to a second worker; put again meanwhile,
  it waits until the first worker calls `done()`, then runs again.
- `put_after` delays an item (of two delays, the earlier wins); `put_backoff` delays
  it by base × 2^failures (up to a maximum) after a failed pass, `reset_backoff`
  forgets the failures after a good one. A cluster whose passes keep failing is
  retried ever more slowly; the others are not held up.

Delays are measured on the injected clock, so a test moves a fake clock forward and
calls `take_due()` instead of sleeping; `get()` waits in real time for the threads
of a running server.
"""

import threading
from collections import deque


class WorkQueue:
    def __init__(self, clock, backoff_base_s: float = 0.05, backoff_max_s: float = 30.0):
        self._clock = clock
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._changed = threading.Condition()
        self._ready: deque = deque()  # items due now, in the order they became due
        self._waiting: set = set()  # items put and not yet handed out
        self._working: set = set()  # items a worker holds
        self._timers: dict = {}  # item -> when (clock seconds) it becomes due
        self._failures: dict = {}  # item -> failed passes in a row

    def _seconds(self) -> float:
        return self._clock().timestamp()

    def put(self, item) -> None:
        with self._changed:
            self._timers.pop(item, None)
            self._make_ready(item)
            self._changed.notify()

    def _make_ready(self, item) -> None:
        if item not in self._waiting:
            self._waiting.add(item)
            if item not in self._working:
                self._ready.append(item)

    def put_after(self, item, delay_s: float) -> None:
        if delay_s <= 0:
            self.put(item)
            return
        with self._changed:
            if item in self._waiting:
                return  # already due: sooner than any delay
            when = self._seconds() + delay_s
            if item not in self._timers or when < self._timers[item]:
                self._timers[item] = when
                self._changed.notify()

    def put_backoff(self, item) -> float:
        """Delay `item` by its backoff; returns the delay chosen."""
        with self._changed:
            failures = self._failures.get(item, 0)
            self._failures[item] = failures + 1
        delay_s = min(self.backoff_base_s * 2 ** failures, self.backoff_max_s)
        self.put_after(item, delay_s)
        return delay_s

    def reset_backoff(self, item) -> None:
        with self._changed:
            self._failures.pop(item, None)

    def failures(self, item) -> int:
        with self._changed:
            return self._failures.get(item, 0)

    def _promote_due(self) -> None:
        now = self._seconds()
        for item, when in list(self._timers.items()):
            if when <= now:
                del self._timers[item]
                self._make_ready(item)

    def _next_due_in_s(self) -> float | None:
        if not self._timers:
            return None
        return max(0.0, min(self._timers.values()) - self._seconds())

    def take_due(self):
        """The next item that is due now, or None; never waits."""
        with self._changed:
            return self._take_locked()

    def get(self, timeout_s: float):
        """The next due item, waiting up to `timeout_s` (real time) for one."""
        with self._changed:
            item = self._take_locked()
            if item is None:
                next_due = self._next_due_in_s()
                wait_s = timeout_s if next_due is None else min(timeout_s, next_due)
                self._changed.wait(wait_s)
                item = self._take_locked()
            return item

    def _take_locked(self):
        self._promote_due()
        if not self._ready:
            return None
        item = self._ready.popleft()
        self._waiting.discard(item)
        self._working.add(item)
        return item

    def done(self, item) -> None:
        """The worker holding `item` has finished; if it was put meanwhile, it is due."""
        with self._changed:
            self._working.discard(item)
            if item in self._waiting:
                self._ready.append(item)
                self._changed.notify()

    def delayed(self) -> dict:
        """Items waiting for their time: {item: seconds until due} (for tests and logs)."""
        with self._changed:
            now = self._seconds()
            return {item: when - now for item, when in self._timers.items()}

    def wake_waiters(self) -> None:
        """Let waiting workers look again (after a fake clock moved, or at stop)."""
        with self._changed:
            self._changed.notify_all()
