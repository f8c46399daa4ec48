"""The control loop: worker threads that take cluster ids from the work queue and
run one reconciler pass for each. A cluster is put on the queue when something is
written for it (`wake(cluster_id)`: an API call, a heartbeat with news, a provider
call finished), when the pass asked to run again after a delay, and once for every
live cluster at start and every `resync_s` (a safety net). A pass that raises is
retried with backoff for that cluster alone; the others go on.

Tests drive it without threads: move the fake clock, then `run_due()`.
"""

import logging
import threading

from elmr.control.reconciler import Reconciler
from elmr.control.workqueue import WorkQueue

log = logging.getLogger("elmr.control")
# A pass that wants to run again "now" runs again after this (no busy loop).
MIN_RECHECK_S = 0.01


class ControlLoop:
    def __init__(self, reconciler: Reconciler, queue: WorkQueue, workers: int = 4,
                 resync_s: float = 60.0, idle_wait_s: float = 1.0):
        self.reconciler = reconciler
        self.queue = queue
        self.workers = workers
        self.resync_s = resync_s
        self.idle_wait_s = idle_wait_s
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._resync_timer: threading.Timer | None = None

    def start(self) -> None:
        self.resync()
        self._threads = [threading.Thread(target=self._work, name=f"elmr-control-{n}", daemon=True)
                         for n in range(self.workers)]
        for thread in self._threads:
            thread.start()
        self._schedule_resync()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        if self._resync_timer is not None:
            self._resync_timer.cancel()
        self.queue.wake_waiters()
        for thread in self._threads:
            thread.join(timeout_s)

    def wake(self, cluster_id: str | None = None) -> None:
        """Something changed for `cluster_id` (for every live cluster if None)."""
        if cluster_id is None:
            self.resync()
        else:
            self.queue.put(cluster_id)

    def resync(self) -> None:
        for cluster_id in self.reconciler.live_cluster_ids():
            self.queue.put(cluster_id)

    def _schedule_resync(self) -> None:
        def resync_and_reschedule():
            if not self._stopping.is_set():
                try:
                    self.resync()
                except Exception:
                    log.exception("resync failed")
                self._schedule_resync()
        self._resync_timer = threading.Timer(self.resync_s, resync_and_reschedule)
        self._resync_timer.daemon = True
        self._resync_timer.start()

    def run_due(self, max_passes: int = 1000) -> int:
        """Work every cluster that is due now, in this thread, until none is (tests).
        Returns the number of passes run."""
        passes = 0
        while passes < max_passes and (cluster_id := self.queue.take_due()) is not None:
            self.work_on(cluster_id)
            passes += 1
        return passes

    def _work(self) -> None:
        while not self._stopping.is_set():
            cluster_id = self.queue.get(self.idle_wait_s)
            if cluster_id is not None:
                self.work_on(cluster_id)

    def work_on(self, cluster_id: str) -> None:
        try:
            again_in_s = self.reconciler.reconcile(cluster_id)
        except Exception:  # a bad pass is logged and retried with backoff, never fatal
            delay_s = self.queue.put_backoff(cluster_id)
            log.exception("pass over %s failed; next try in %.2f s", cluster_id, delay_s)
        else:
            self.queue.reset_backoff(cluster_id)
            if again_in_s is not None:
                self.queue.put_after(cluster_id, max(again_in_s, MIN_RECHECK_S))
        finally:
            self.queue.done(cluster_id)
