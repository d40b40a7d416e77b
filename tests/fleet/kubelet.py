"""Kubelets for many nodes: each helper pod is played by its node's scenario in its own thread,
after a start delay (the image pull and container start of a real node: 1-2 s in the benchmark),
so helper pods on different nodes progress at the same time as on a real cluster."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.kube.fake_cluster import FakeCluster, Scenario


class FleetKubelets:
    def __init__(
        self,
        cluster: FakeCluster,
        scenario_for: Callable[[str], Scenario],
        start_delay: tuple[float, float] = (0.0, 0.0),
        seed: int = 13,
    ) -> None:
        self.cluster = cluster
        self.scenario_for = scenario_for
        self.start_delay = start_delay
        self.random = random.Random(seed)
        self.seen: list[str] = []  # node names, in the order their helper pods appeared
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-kubelets", daemon=True)

    def _run(self) -> None:
        handled: set[str] = set()
        while not self._stop.is_set():
            try:
                for pod in self.cluster.helper_pods():
                    name = pod["metadata"]["name"]
                    if name not in handled:
                        handled.add(name)
                        self.seen.append(pod["spec"]["nodeName"])
                        delay = self.random.uniform(*self.start_delay)
                        threading.Thread(target=self._play, args=(pod, delay), daemon=True).start()
            except BaseException as exc:
                self.errors.append(exc)
            self._stop.wait(0.1)

    def _play(self, pod: dict[str, Any], delay: float) -> None:
        if self._stop.wait(delay):
            return
        try:
            self.scenario_for(pod["spec"]["nodeName"])(self.cluster, pod)
        except Exception as exc:
            if "404" not in str(exc):  # the pod was deleted meanwhile: what a kubelet sees too
                self.errors.append(exc)

    def __enter__(self) -> FleetKubelets:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        time.sleep(0)
