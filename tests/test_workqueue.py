"""The control loop's work queue and its backoff, on a fake clock: duplicate puts
merge, an item is never worked on twice at once, delays and backoff follow the
clock, and a cluster whose passes fail is retried ever more slowly while the others
go on."""

import threading

from control_fakes import FakeClock
from elmr.control.loop import ControlLoop
from elmr.control.workqueue import WorkQueue


def test_duplicate_puts_merge():
    queue = WorkQueue(FakeClock())
    for _ in range(3):
        queue.put("j-A")
    queue.put("j-B")
    assert [queue.take_due(), queue.take_due(), queue.take_due()] == ["j-A", "j-B", None]


def test_an_item_being_worked_on_is_not_handed_out_again_until_done():
    queue = WorkQueue(FakeClock())
    queue.put("j-A")
    assert queue.take_due() == "j-A"
    queue.put("j-A")  # news arrives while a worker holds it
    assert queue.take_due() is None
    queue.done("j-A")
    assert queue.take_due() == "j-A"


def test_delays_follow_the_clock_and_the_earlier_delay_wins():
    clock = FakeClock()
    queue = WorkQueue(clock)
    queue.put_after("j-A", 10)
    queue.put_after("j-A", 3)
    queue.put_after("j-A", 20)
    clock.advance(2.9)
    assert queue.take_due() is None
    clock.advance(0.2)
    assert queue.take_due() == "j-A"


def test_a_put_makes_a_delayed_item_due_now():
    queue = WorkQueue(FakeClock())
    queue.put_after("j-A", 60)
    queue.put("j-A")
    assert queue.take_due() == "j-A"


def test_backoff_doubles_up_to_its_maximum_and_resets():
    queue = WorkQueue(FakeClock(), backoff_base_s=1, backoff_max_s=5)
    delays = [queue.put_backoff("j-A") for _ in range(5)]
    assert delays == [1, 2, 4, 5, 5]
    queue.reset_backoff("j-A")
    assert queue.put_backoff("j-A") == 1


def test_get_waits_in_real_time_for_a_put_from_another_thread():
    queue = WorkQueue(FakeClock())
    threading.Timer(0.05, queue.put, args=("j-A",)).start()
    assert queue.get(timeout_s=10) == "j-A"


class ReconcilerThatFailsFor:
    """Passes over `failing` raise; the others succeed and ask to run in 1 s."""

    def __init__(self, failing: str):
        self.failing = failing
        self.passes: list[str] = []

    def live_cluster_ids(self):
        return ["j-BAD", "j-GOOD"]

    def reconcile(self, cluster_id):
        self.passes.append(cluster_id)
        if cluster_id == self.failing:
            raise RuntimeError("the store is unreachable")
        return 1.0


def test_a_cluster_whose_passes_fail_backs_off_alone():
    clock = FakeClock()
    reconciler = ReconcilerThatFailsFor("j-BAD")
    loop = ControlLoop(reconciler, WorkQueue(clock, backoff_base_s=1, backoff_max_s=60))
    loop.resync()
    for _ in range(60):
        loop.run_due()
        clock.advance(1)
    assert reconciler.passes.count("j-GOOD") == 60
    # Failed passes at 0, 1, 3, 7, 15, 31 s: the failing cluster does not spin.
    assert reconciler.passes.count("j-BAD") == 6
