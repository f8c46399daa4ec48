"""The control loop: a background thread that runs a reconciler pass and performs
its actions, whenever something is written (`wake()`) and at least every
`period_s` (to notice processes that died without telling anyone)."""

import logging
import threading

from elmr.control.actuator import Actuator
from elmr.control.reconciler import Reconciler

log = logging.getLogger("elmr.control")


class ControlLoop:
    def __init__(self, reconciler: Reconciler, actuator: Actuator, period_s: float = 1.0):
        self.reconciler = reconciler
        self.actuator = actuator
        self.period_s = period_s
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="elmr-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self._wakeup.set()
        self._thread.join(timeout_s)

    def run_once(self) -> list:
        actions = self.reconciler.run_pass()
        if actions:
            self.actuator.perform(actions)
        return actions

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                acted = self.run_once()
            except Exception:  # a bad pass is logged and retried, never fatal
                log.exception("reconciler pass failed")
                acted = []
            if not acted:
                self._wakeup.wait(self.period_s)
