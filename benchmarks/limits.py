"""How close each phase of a run comes to this machine's physical limit.

    python benchmarks/limits.py [--config configs/ml-1m_clean.yaml] [--data DIR] [--set key=value ...]
                                [--epochs 3] [--evals 2] [--skip-run | --skip-whole-run] [--repo DIR]
                                [--device cpu|cuda|auto]

The floor of a phase is the time torch on this machine needs for the phase's matrix products
alone: engine.training.flops lists them from the model's layer sizes, and each distinct shape is timed
here, in this run, in the layout the model uses. Evaluation batches are ours to choose, so
the evaluation floor takes, per layer, the best rate over several batch sizes; training
batches are a hyper-parameter, so its floor uses them. DiffRec's evaluation runs the reverse
process folded (Denoiser.reverse: about a fifth of the products of a model pass per step); its
floor is that of the products it runs, and the floor of a model pass per step (the issue's
count) is printed next to it. Prints, with the load average:
  train epoch and evaluation: time (median and best of the repeats), floor, ratio, page faults;
  start-up: a real `diffrec-tui --run` with epochs=1, the command to its first epoch and the
    last evaluation to exit (fixed cost: nothing of it is training);
  whole run: the command to early stop, against the sum of its phases' floors, its peak RSS
    (the worker's) and test metrics.
Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.processes.worker import quiet_waits  # noqa: E402

quiet_waits()  # as in the worker that runs real trainings (before torch is imported)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.models import registry as methods  # noqa: E402
from engine.data import loaders as data  # noqa: E402
from engine.training import evaluation  # noqa: E402
from engine.models import cpu_blas  # noqa: E402
from engine.models.threads import single_threaded_kernels  # noqa: E402
from engine.training import flops  # noqa: E402
from engine.training import trainer  # noqa: E402
from engine.config import files as config_files  # noqa: E402
from engine import untrusted  # noqa: E402

EVAL_CANDIDATES = (128, 256, 512, 1024, 2048)  # batch sizes tried for the evaluation floor


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def operands(g: flops.Gemm, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(a, b, out) with a @ b the product, laid out as a linear layer's pass has them."""
    r = lambda *s: torch.randn(*s, device=device)  # noqa: E731
    if g.kind == flops.FORWARD:  # x (m, k) @ W.t(), W (n, k)
        a, b = r(g.m, g.k), r(g.n, g.k).t()
    elif g.kind == flops.INPUT_GRAD:  # grad (m, k) @ W (k, n): k is the layer's output here
        a, b = r(g.m, g.k), r(g.k, g.n)
    else:  # weight grad: grad.t() (m, k) @ x (k, n), grad (k, m)
        a, b = r(g.k, g.m).t(), r(g.k, g.n)
    return a, b, torch.empty(g.m, g.n, device=device)


def multiply(lib: str):
    """The call that multiplies a @ b into out: torch's kernels, or numpy's BLAS on the same
    memory (which evaluation uses on one-thread kernels where cpu_blas chooses it)."""
    if lib == "numpy":
        return lambda a, b, out: np.matmul(a.numpy(), b.numpy(), out=out.numpy())
    return lambda a, b, out: torch.mm(a, b, out=out)


def libraries(device) -> tuple[str, ...]:
    """The BLAS libraries timed: torch's, and numpy's on a CPU where cpu_blas can use it
    (the floor is the faster of the two: a phase that switches library must not beat it)."""
    return ("torch", "numpy") if torch.device(device).type == "cpu" and cpu_blas.use_numpy() else ("torch",)


def time_gemm(g: flops.Gemm, device, lib: str = "torch", min_seconds: float = 0.05, min_calls: int = 10) -> float:
    """Seconds per product: the fastest single call (of at least `min_calls`, `min_seconds`):
    on a shared machine the best case is the one that tells what the machine can do."""
    a, b, out = operands(g, device)
    mm = multiply(lib)
    mm(a, b, out)
    sync(device)
    best, spent, calls = float("inf"), 0.0, 0
    while calls < min_calls or spent < min_seconds:
        t0 = time.perf_counter()
        mm(a, b, out)
        sync(device)
        dt = time.perf_counter() - t0
        best, spent, calls = min(best, dt), spent + dt, calls + 1
    return best


def time_gemm_side_by_side(g: flops.Gemm, threads: int, lib: str = "torch", rounds: int = 10) -> float:
    """Seconds per product when `threads` threads each multiply on their own operands with
    single-threaded kernels (how evaluate() runs batches on a CPU): the fastest round's
    wall time / products."""
    ops = [operands(g, "cpu") for _ in range(threads)]
    mm = multiply(lib)

    def work(i: int) -> None:
        mm(*ops[i])

    best = float("inf")
    with single_threaded_kernels(), ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
        for _ in range(rounds):
            t0 = time.perf_counter()
            list(pool.map(work, range(threads)))
            best = min(best, (time.perf_counter() - t0) / threads)
    return best


class Floors:
    """Per-GEMM times of each library, measured once per round and kept as the best seen;
    for the evaluation also side by side on CPU threads, the way evaluate() uses them."""

    def __init__(self, device):
        self.device = device
        self.libs = libraries(device)
        self.best: dict[tuple[str, flops.Gemm], float] = {}
        self.side_by_side: dict[tuple[str, flops.Gemm], float] = {}

    def measure(self, gemms, side_by_side=()) -> None:
        threads = torch.get_num_threads()
        for lib in self.libs:
            for g in gemms:
                self.best[lib, g] = min(self.best.get((lib, g), float("inf")), time_gemm(g, self.device, lib))
            if self.device.type == "cpu" and threads > 1:
                for g in side_by_side:
                    t = time_gemm_side_by_side(g, threads, lib)
                    self.side_by_side[lib, g] = min(self.side_by_side.get((lib, g), float("inf")), t)

    def seconds(self, gemms: Counter, libs: tuple[str, ...] = ("torch",)) -> float:
        """The products at the faster of `libs`' rates, each on all threads."""
        return sum(min(self.best[lib, g] for lib in libs) * c for g, c in gemms.items())

    def as_run(self, gemms: Counter) -> float:
        """The products as evaluate() runs them: side by side where it does (CPU threads),
        with the faster library."""
        table = self.side_by_side if self.side_by_side else self.best
        return sum(min(table[lib, g] for lib in self.libs) * c for g, c in gemms.items())

    def eval_seconds(self, gemms: Counter) -> float:
        """Each product at the best rate any candidate batch size reached for its layer,
        with either library, one kernel on all threads or one per thread side by side."""
        total = 0.0
        for g, c in gemms.items():
            rates = [x.flops / t for table in (self.best, self.side_by_side) for (_, x), t in table.items()
                     if x.kind == g.kind and (x.k, x.n) == (g.k, g.n)]
            total += g.flops * c / max(rates)
        return total


def eval_candidates(gemms: Counter, n_users: int) -> set:
    layers = {(g.k, g.n) for g in gemms}
    return {flops.Gemm(min(m, n_users), k, n) for m in EVAL_CANDIDATES for k, n in layers}


def ratio_line(name: str, times: list[float], floor: float, extra: str = "") -> str:
    med, best = statistics.median(times), min(times)
    return (f"{name}: median {med:.4g}s best {best:.4g}s | floor {floor:.4g}s | ratio median "
            f"{med / floor:.2f} best {best / floor:.2f}{extra}")


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def in_process(cfg, ds, device, n_epochs: int, n_evals: int, eval_users: int = 0) -> dict:
    """Train epochs and evaluations of the model itself, each repeat next to a floor round
    (0 and 0: the floors alone). `eval_users` > 0 evaluates only the first that many users
    (time and floor both scale with them: shorter repeats, more of them on a busy machine)."""
    torch.manual_seed(cfg["seed"])
    method = methods.build(cfg, ds, device)
    train = trainer.device_rows(ds.train_matrix(cfg["time-aware"], cfg["w_min"], cfg["w_max"]), device)
    users = np.arange(min(eval_users, ds.n_users) if eval_users > 0 else ds.n_users)
    eval_batch = evaluation.eval_batch_size(cfg, ds.n_items, device, len(users))
    phases = flops.phase_gemms(method, ds.n_users, cfg["train_batch_size"], eval_batch)
    if phases is None:
        print(f"{cfg['model']}: closed-form model, no FLOP floor")
        return {}
    phases["eval"] = flops.phase_gemms(method, len(users), cfg["train_batch_size"], eval_batch)["eval"]
    # the same reverse process as a model pass per step (how the issue counts its floor), for comparison
    stepwise = flops.phase_gemms(method, len(users), cfg["train_batch_size"], eval_batch, folded=False)["eval"]
    for name, g in (("train epoch", phases["train"]), (f"evaluation of {len(users)} users", phases["eval"]),
                    ("  the same, a model pass per step", stepwise)):
        print(f"{name}: {flops.total_flops(g) / 1e9:.1f} GFLOP in {sum(g.values())} products")
    floors = Floors(device)
    candidates = sorted(eval_candidates(phases["eval"] + stepwise, ds.n_users) | set(phases["eval"]),
                        key=lambda g: (g.k, g.n, g.m))
    out = {"train": [], "eval": [], "train_faults": 0, "eval_faults": 0, "train_paired": [], "eval_paired": []}
    threads = eval_threads(device)
    eval_lib = "numpy" if threads > 1 and "numpy" in libraries(device) else "torch"  # as cpu_blas.applies has it
    replays = {"train": Replay(phases["train"], device, 1), "eval": Replay(phases["eval"], device, threads, eval_lib)}
    for i in range(max(n_epochs, n_evals, 1)):
        floors.measure(list(phases["train"]) + candidates, side_by_side=candidates)
        if i < n_epochs:
            order = np.random.default_rng([cfg["seed"], i + 1]).permutation(ds.n_users)
            out["train"].append(timed(lambda: trainer.train_epoch(method, train, order, cfg["train_batch_size"], device),
                                      device, out, "train_faults"))
            out["train_paired"].append(out["train"][-1] / replays["train"].seconds())
        if i < n_evals:
            out["eval"].append(timed(lambda: trainer.evaluate(method, cfg, ds, train, device, users=users),
                                     device, out, "eval_faults"))
            out["eval_paired"].append(out["eval"][-1] / replays["eval"].seconds())
    out.update(train_floor=floors.seconds(phases["train"]), eval_floor=floors.eval_seconds(phases["eval"]),
               eval_floor_ours=floors.as_run(phases["eval"]), eval_floor_stepwise=floors.eval_seconds(stepwise),
               train_floor_any=floors.seconds(phases["train"], floors.libs))
    if len(users) < ds.n_users:  # the whole-run ratios need a whole evaluation's floor
        out["eval_floor"] *= ds.n_users / len(users)
        out["eval_floor_ours"] *= ds.n_users / len(users)
        out["eval_floor_stepwise"] *= ds.n_users / len(users)
        out["eval"] = [t * ds.n_users / len(users) for t in out["eval"]]
        print(f"(evaluation times and floors scaled from {len(users)} to all {ds.n_users} users)")
    print_rates(floors, phases)
    report_phases(out, eval_batch)
    return out


def eval_threads(device) -> int:
    """Threads evaluate() scores batches on side by side (1: one batch at a time)."""
    return torch.get_num_threads() if torch.device(device).type == "cpu" else 1


class Replay:
    """A phase's products alone, in its own counts (split among `threads` running side by
    side with single-threaded kernels, as evaluate() does): timed right after the phase,
    under the same load, it gives a paired ratio that a busy machine distorts much less."""

    def __init__(self, gemms: Counter, device, threads: int, lib: str = "torch"):
        self.device, self.threads, self.mm = device, threads, multiply(lib)
        self.shares = [[(operands(g, device), c // threads + (t < c % threads)) for g, c in gemms.items()]
                       for t in range(threads)]

    def _run(self, t: int) -> None:
        for (a, b, out), count in self.shares[t]:
            for _ in range(count):
                self.mm(a, b, out)

    def seconds(self) -> float:
        t0 = time.perf_counter()
        if self.threads == 1:
            self._run(0)
        else:
            with single_threaded_kernels(), ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(self._run, range(self.threads)))
        sync(self.device)
        return time.perf_counter() - t0


def timed(fn, device, out: dict, faults_key: str) -> float:
    """Seconds fn takes (device work included); its page faults go to out[faults_key]."""
    f0, t0 = faults(), time.perf_counter()
    fn()
    sync(device)
    out[faults_key] = faults() - f0
    return time.perf_counter() - t0


def report_phases(out: dict, eval_batch: int) -> None:
    print(f"train epoch floor {out['train_floor']:.4g}s (torch's kernels, which training uses on several threads; "
          f"{out['train_floor_any']:.4g}s at the faster library's rates), evaluation floor {out['eval_floor']:.4g}s "
          f"(at our batch of {eval_batch}, as evaluate() runs it: {out['eval_floor_ours']:.4g}s)")
    for key, name in (("train", "train epoch"), ("eval", "evaluation")):
        if out[key]:
            paired = out[f"{key}_paired"]
            print(ratio_line(name, out[key], out[f"{key}_floor"],
                             f" | paired with a replay of its products: median {statistics.median(paired):.2f} "
                             f"best {min(paired):.2f} | {out[f'{key}_faults']:,} page faults in the last"))
    if out["eval"] and out["eval_floor_stepwise"] > out["eval_floor"]:
        print(ratio_line("  evaluation against a model pass per step", out["eval"], out["eval_floor_stepwise"],
                         " (the floor of the products the reverse process took before it was folded)"))
    print(f"  ({load()})")


def print_rates(floors: Floors, phases: dict) -> None:
    used = set(phases["train"]) | set(phases["eval"])
    gemms = sorted({g for _, g in floors.best}, key=lambda g: (g.kind, g.k, g.n, g.m))
    for g in gemms:
        mark = "*" if g in used else " "
        cells = []
        for lib in floors.libs:
            cell = f"{lib} {g.flops / floors.best[lib, g] / 1e9:5.1f}"
            side = floors.side_by_side.get((lib, g))
            cells.append(cell + (f" (side by side {g.flops / side / 1e9:5.1f})" if side else ""))
        print(f"  {mark} {g.kind:3s} {g.m:5d} x {g.k:5d} @ {g.k:5d} x {g.n:5d}: GFLOPS " + " | ".join(cells))
    print("  (* = a product of the model's phases; the others only set the evaluation's best rate;"
          " side by side = one single-threaded product per thread, all threads at once)")


REPO = {"root": ROOT}  # whose code the CLI phases run (--repo: another checkout, e.g. main before a change)


def cli_run(config_path: str, overrides: list[str], runs_dir: str) -> dict:
    """`diffrec-tui --run` in a fresh process; wall times from the outside, phases from events."""
    cmd = [sys.executable, "-m", "diffrec_tui.cli", "--run", str(Path(config_path).resolve()), "--runs-dir", runs_dir]
    for o in overrides:
        cmd += ["--set", o]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO["root"]), os.environ.get("PYTHONPATH")]))}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO["root"], capture_output=True, text=True, env=env)
    t1 = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    run_dir = max(Path(runs_dir).iterdir(), key=lambda p: p.stat().st_mtime)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    epochs = [e for e in events if e["type"] == "epoch"]
    evals = [e for e in events if e["type"] == "eval"]
    # The worker's own peak (RUSAGE_CHILDREN would also count this process's pages at fork);
    # an older checkout's summary lacks it: then the largest child's, an upper bound.
    rss = events[-1].get("peak_rss_gb")
    if rss is None:
        kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rss = kb / 1024 ** 2 if kb > before else None
    return {"wall": t1 - t0, "epochs": epochs, "evals": evals, "summary": events[-1], "device": events[0].get("device"),
            "to_first_epoch": epochs[0]["time"] - epochs[0]["seconds"] - t0,
            "after_last_eval": t1 - evals[-1]["time"],
            "peak_rss_gb": rss}


def startup(config_path: str, overrides: list[str], floors: dict | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        r = cli_run(config_path, overrides + ["epochs=1"], tmp)
    r["fixed"] = r["to_first_epoch"] + r["after_last_eval"]
    ep, ev = r["epochs"][0]["seconds"], r["evals"][0]["seconds"]
    phases = f"its epoch {ep:.3f}s, evaluation {ev:.3f}s"
    if floors:
        phases += f" (ratios {ep / floors['train_floor']:.2f}, {ev / floors['eval_floor']:.2f})"
    print(f"start-up: command to first epoch {r['to_first_epoch']:.2f}s, last evaluation to exit "
          f"{r['after_last_eval']:.2f}s: fixed cost {r['fixed']:.2f}s (floor 0) of a {r['wall']:.2f}s "
          f"one-epoch run; {phases} | {load()}")
    return r


def whole_run(config_path: str, overrides: list[str], floors: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        r = cli_run(config_path, overrides, tmp)
    n_ep, n_ev = len(r["epochs"]), len(r["evals"])
    epoch_s = [e["seconds"] for e in r["epochs"]]
    eval_s = [e["seconds"] for e in r["evals"]]
    ep, ev = statistics.median(epoch_s), statistics.median(eval_s)
    line = f"whole run: {r['wall']:.1f}s wall, {n_ep} epochs (median {ep:.3f}s) and {n_ev} evaluations (median {ev:.3f}s)"
    if floors:
        floor = n_ep * floors["train_floor"] + n_ev * floors["eval_floor"]
        line += (f" | floor {floor:.1f}s | ratio {r['wall'] / floor:.2f} (epochs {ep / floors['train_floor']:.2f}, "
                 f"evaluations {ev / floors['eval_floor']:.2f})")
    s = r["summary"]
    test = s.get("test") or {}
    print(line)
    print(f"  on {r['device']}: best epoch {s.get('best_epoch')} of {s.get('epochs_run')} ({s.get('reason')}); "
          f"test R@20 {test.get('recall@20', float('nan')):.4f} N@20 {test.get('ndcg@20', float('nan')):.4f}; "
          f"peak RSS (worker) {r['peak_rss_gb'] or float('nan'):.2f} GB | {load()}")
    return r


def data_overrides(config_path: str, data_dir: str | None) -> list[str]:
    """data_path as an absolute path (the given folder, else the config's, from the current
    directory as the CLI reads it), so the runs below find it from the repository root."""
    if data_dir is None:
        raw = untrusted.read_yaml(config_path)
        if raw.get("data_format", "synthetic") == "synthetic" or not raw.get("data_path"):
            return []
        data_dir = raw["data_path"]
    return [f"data_path={Path(data_dir).expanduser().resolve()}"]


def add_common_args(ap: argparse.ArgumentParser, device: str, evals: int) -> None:
    """The options limits.py and gpu_check.py share."""
    ap.add_argument("--config", default=str(ROOT / "configs" / "ml-1m_clean.yaml"))
    ap.add_argument("--data", default=None, help="data folder (default: the config's data_path)")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--device", default=device)
    ap.add_argument("--epochs", type=int, default=3, help="train epochs timed in process")
    ap.add_argument("--evals", type=int, default=evals, help="evaluations timed in process")


def main() -> None:
    ap = argparse.ArgumentParser()
    add_common_args(ap, device="cpu", evals=2)
    ap.add_argument("--skip-run", action="store_true", help="no start-up and whole-run phases")
    ap.add_argument("--skip-whole-run", action="store_true", help="the start-up phase only (one epoch)")
    ap.add_argument("--repo", help="run the start-up and whole-run phases with this checkout's code")
    ap.add_argument("--eval-users", type=int, default=0, help="evaluate only the first N users in process")
    args = ap.parse_args()
    if args.repo:
        REPO["root"] = Path(args.repo).resolve()
        print(f"start-up and whole run with the code in {REPO['root']}")
    overrides = data_overrides(args.config, args.data) + [f"device={args.device}"] + args.set
    cfg = config_files.load(args.config, overrides)
    torch.set_num_threads(cfg["threads"] or os.cpu_count() or 1)
    cpu_blas.set_threads(torch.get_num_threads())
    device = trainer.select_device(cfg["device"])
    ds = data.load(cfg)
    print(f"{cfg['model']} on {ds.n_users} users x {ds.n_items} items, {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads | {load()}")
    if args.repo:  # this checkout's in-process phases say nothing about that code: floors only
        args.epochs = args.evals = 0
    floors = in_process(cfg, ds, device, args.epochs, args.evals, args.eval_users)
    if not args.skip_run:
        if not args.skip_whole_run:
            whole_run(args.config, overrides, floors)  # first: its peak RSS is the largest child's so far
        startup(args.config, overrides, floors)


if __name__ == "__main__":
    main()
