"""The Ray backend (`--backend ray [--address ADDR] [--cpus-per-trial N] [--gpus-per-trial N]`):
the Ray twin of the local long-lived workers. Each slot is a Ray actor holding a TrialHost;
the dataset is loaded once, here, and put in Ray's object store, and every actor takes it
from there. Trials write their ordinary run directories under the sweep directory (the
cluster's nodes must see it: a shared file system), so results.csv, best.yaml, the Sweep
screen and --resume work as with the local backend.

Without an address Ray starts a local instance (ray.init()); `close()` always ends with
ray.shutdown(), which stops the processes that instance started. Ray is the optional extra
diffrec-tui[ray]; importing this module without it is an InputError that says so.
"""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from engine.errors import InputError
from engine.processes.backends import TrialHandle

INSTALL = "pip install 'diffrec-tui[ray]'"

try:
    import ray
    from ray.exceptions import RayActorError, RayError
except ImportError as exc:  # the extra is not installed
    raise InputError(f"--backend ray: Ray is not installed; {INSTALL}") from exc


class TrialActor:
    """A Ray actor: one TrialHost, trials one at a time; `stop` arrives on a second thread."""

    def __init__(self):
        from engine.processes.trial_host import TrialHost
        self.host, self.stopped = TrialHost(), set()

    def run(self, run_dir: str, resume: bool, ds, supervisor: int | None) -> int:
        from engine.config import schema
        from engine.records.runs import RunDir
        run = RunDir(run_dir)
        run.record_worker(os.getpid(), supervisor)  # this actor's process, on its own host
        if ds is not None:
            self.host.offer(schema.resolve(run.config()), ds)
        return self.host.run_logged(run.path, resume, lambda: run_dir in self.stopped)

    def stop(self, run_dir: str) -> None:
        self.stopped.add(run_dir)

    def loads(self) -> int:
        return self.host.loads


class RayTrial(TrialHandle):
    """The Runner's handle of one trial on an actor."""

    def __init__(self, backend: "RayBackend", actor, ref, run: str):
        super().__init__(run)
        self.backend, self.actor, self.ref = backend, actor, ref
        self.code: int | None = None

    def poll(self) -> int | None:
        if self.code is None:
            ready, _ = ray.wait([self.ref], timeout=0)
            if ready:
                try:
                    self.code = int(ray.get(ready[0]))
                except RayActorError:  # the actor died (killed, or its process crashed)
                    self.code = -signal.SIGKILL if self.killed else -1
                    self.backend.forget(self.actor)
                except RayError:
                    self.code = 1
                self.backend.idle(self.actor)
        return self.code

    def _ask_stop(self) -> bool:
        self.actor.stop.remote(self.run)
        return True

    def _kill(self) -> bool:
        ray.kill(self.actor, no_restart=True)
        return True


class RayBackend:
    def __init__(self, address: str | None = None, cpus_per_trial: float | None = None,
                 gpus_per_trial: float | None = None, num_cpus: int | None = None):
        for name, v in (("--cpus-per-trial", cpus_per_trial), ("--gpus-per-trial", gpus_per_trial)):
            if v is not None and v < 0 or (name == "--cpus-per-trial" and v == 0):
                raise InputError(f"{name}: must be > 0, got {v}")
        self.cpus, self.gpus = cpus_per_trial or 1, gpus_per_trial or 0
        kw = {"address": address} if address else {"num_cpus": num_cpus}
        try:
            ray.init(log_to_driver=False, logging_level=logging.WARNING, include_dashboard=False,
                     ignore_reinit_error=True, **kw)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise InputError(f"--address: cannot connect to the Ray cluster at {address}: {exc}") from exc
        self.actor_class = ray.remote(TrialActor)
        self.free: list = []
        self.actors: list = []
        self.data: dict = {}

    def slots(self) -> int:
        """Trials the cluster can run at once with each trial's resources."""
        res = ray.cluster_resources()
        n = int(res.get("CPU", 1) // self.cpus)
        if self.gpus:
            n = min(n, int(res.get("GPU", 0) // self.gpus))
        return max(1, n)

    def _dataset(self, run: Path):
        """The trial's data in the object store, put there once per distinct dataset; None when
        it does not load here (the actor loads it and records the failure in the run)."""
        from engine.config import schema
        from engine.processes.trial_host import data_key
        from engine.records.runs import RunDir
        try:
            cfg = schema.resolve(RunDir(run).config())
            key = data_key(cfg)
            if key not in self.data:
                from engine.data import loaders
                self.data[key] = ray.put(loaders.load(cfg))
            return self.data[key]
        except Exception:
            return None

    def start(self, run_path, resume: bool = False, threads: int | None = None) -> RayTrial:
        run = Path(run_path).resolve()
        actor = self.free.pop() if self.free else None
        if actor is None:
            actor = self.actor_class.options(num_cpus=self.cpus, num_gpus=self.gpus, max_concurrency=2).remote()
            self.actors.append(actor)
        ref = actor.run.remote(str(run), bool(resume), self._dataset(run), os.getpid())
        return RayTrial(self, actor, ref, str(run))

    def idle(self, actor) -> None:
        if actor in self.actors and actor not in self.free:
            self.free.append(actor)

    def forget(self, actor) -> None:
        if actor in self.actors:
            self.actors.remove(actor)

    def close(self) -> None:
        try:
            for actor in self.actors:
                ray.kill(actor, no_restart=True)
        finally:
            self.actors, self.free, self.data = [], [], {}
            ray.shutdown()
