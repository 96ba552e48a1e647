"""RecBole's quick-start job (DiffRec on ml-100k with RecBole's defaults: RS 0.8/0.1/0.1, RO,
valid MRR@10, topk [10]) run by this engine and by RecBole 1.2.1, back to back on the same
files, one torch thread each: split counts, test Recall@10 / NDCG@10 / MRR@10 per seed
(mean +- sample SD), wall and CPU seconds, and the load average around each run.

RecBole is not a dependency: install it in a scratch environment and pass its Python,

    python3 -m venv /tmp/rb && /tmp/rb/bin/pip install torch==2.13.0
    /tmp/rb/bin/pip install --no-deps recbole==1.2.1
    /tmp/rb/bin/pip install colorlog colorama tensorboard texttable thop tabulate plotly psutil \
        tqdm "ray[tune]" "numpy<2" "pandas<2.3" "scipy<1.14" "scikit-learn<1.6" "pyarrow<19"
    # what recbole imports; RecBole 1.2.1 needs NumPy 1 (it sets np.float = np.float_)
    python benchmarks/recbole_quickstart.py DATA_PATH --recbole-python /tmp/rb/bin/python

DATA_PATH holds ml-100k in RecBole's layout (DATA_PATH/ml-100k/ml-100k.inter); the config
here is RecBole's overall.yaml + DiffRec.yaml + ml-100k.yaml (../shared/recbole by default),
as RecBole merges them. --set key=value changes ours only (e.g. eval_batch_size=0,
stopping_rule=recbole); --only ours|recbole runs one side.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("overall.yaml", "DiffRec.yaml", "dataset_properties_ml-100k.yaml")
KEYS = ("recall@10", "ndcg@10", "mrr@10")

RECBOLE = r"""
import json, os, sys, time
import torch
torch.set_num_threads(1)
from recbole.config import Config
from recbole.data import create_dataset
from recbole.quick_start import run_recbole
from recbole.utils import init_seed
data_path, seed, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
settings = {"data_path": data_path, "seed": seed, "use_gpu": False, "show_progress": False,
            "checkpoint_dir": os.path.join(work, "saved"), "state": "WARNING"}
cfg = Config(model="DiffRec", dataset="ml-100k", config_dict=settings)
init_seed(cfg["seed"], cfg["reproducibility"])  # as run_recbole does, so this is the run's split
train, valid, test = create_dataset(cfg).build()
seen = set(train.inter_feat[cfg["ITEM_ID_FIELD"]].numpy().tolist())
unseen = sum(int(i) not in seen for part in (valid, test) for i in part.inter_feat[cfg["ITEM_ID_FIELD"]].numpy())
t0, c0 = time.perf_counter(), time.process_time()
result = run_recbole(model="DiffRec", dataset="ml-100k", config_dict=settings)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print("RESULT " + json.dumps({"split": [len(train), len(valid), len(test)], "unseen": unseen,
                              "test": {k.lower(): float(v) for k, v in result["test_result"].items()},
                              "wall": wall, "cpu": cpu}))
"""


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def our_config(data_path: str, files: Path, seed: int, overrides: list[str]) -> dict:
    from engine.config import files as config_files
    text = "".join((files / f).read_text(encoding="utf-8") + "\n" for f in FILES)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(text)
    try:
        return config_files.load(fh.name, [f"data_path={data_path}", "dataset=ml-100k", f"seed={seed}", "threads=1",
                                     *overrides])
    finally:
        os.unlink(fh.name)


def ours(data_path: str, files: Path, seed: int, overrides: list[str]) -> dict:
    from engine.data import loaders as data
    from engine.training import trainer
    t0, c0 = time.perf_counter(), time.process_time()
    cfg = our_config(data_path, files, seed, overrides)
    ds = data.load(cfg)
    *_, end = trainer.fit(cfg, ds)
    s = ds.stats
    return {"split": [s["n_train"], s["n_valid"], s["n_test"]], "unseen": s["unseen_targets"],
            "test": end["test"], "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "best_epoch": end["best_epoch"], "epochs_run": end["epochs_run"]}


def recbole(python: str, data_path: str, seed: int) -> dict:
    # RecBole reloads its own best checkpoint with torch.load's old default (torch >= 2.6
    # made weights_only the default, which its pickled config fails): allowed for that child only.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    with tempfile.TemporaryDirectory() as work:  # RecBole writes log/ and saved/ here
        res = subprocess.run([python, "-c", RECBOLE, data_path, str(seed), work], cwd=work, env=env,
                             capture_output=True, text=True)
    line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"RecBole failed (exit {res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def show(tool: str, seed: int, r: dict, before: str) -> None:
    metrics = " ".join(f"{k} {r['test'][k]:.4f}" for k in KEYS)
    extra = f" best epoch {r['best_epoch']} of {r['epochs_run']}" if "best_epoch" in r else ""
    print(f"{tool:<8} seed {seed}: split {'/'.join(map(str, r['split']))} (+{r['unseen']} unseen targets) "
          f"test {metrics}; wall {r['wall']:.1f}s cpu {r['cpu']:.1f}s{extra}; load {before} -> {load_average()}",
          flush=True)


def summarize(tool: str, runs: list[dict]) -> None:
    parts = []
    for k in KEYS:
        values = [r["test"][k] for r in runs]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        parts.append(f"{k} {statistics.mean(values):.4f} +- {sd:.4f}")
    print(f"{tool:<8} mean over {len(runs)} seeds: {'; '.join(parts)}; "
          f"wall {statistics.mean(r['wall'] for r in runs):.1f}s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data_path")
    p.add_argument("--recbole-python", help="a Python with recbole==1.2.1 installed")
    p.add_argument("--recbole-files", default=str(ROOT.parent / "shared" / "recbole"))
    p.add_argument("--seeds", type=int, nargs="+", default=[2020, 2021, 2022])
    p.add_argument("--set", dest="overrides", action="append", default=[], help="key=value for ours")
    p.add_argument("--only", choices=("ours", "recbole"))
    args = p.parse_args()
    data_path = str(Path(args.data_path).resolve()) + "/"
    results = {"ours": [], "recbole": []}
    for seed in args.seeds:  # the two tools back to back, seed by seed
        if args.only != "recbole":
            before = load_average()
            results["ours"].append(ours(data_path, Path(args.recbole_files), seed, args.overrides))
            show("ours", seed, results["ours"][-1], before)
        if args.only != "ours":
            if not args.recbole_python:
                sys.exit("--recbole-python is needed to run RecBole (or use --only ours)")
            before = load_average()
            results["recbole"].append(recbole(args.recbole_python, data_path, seed))
            show("RecBole", seed, results["recbole"][-1], before)
            if results["ours"]:
                print(f"         wall ours/RecBole {results['ours'][-1]['wall'] / results['recbole'][-1]['wall']:.2f}, "
                      f"cpu {results['ours'][-1]['cpu'] / results['recbole'][-1]['cpu']:.2f}", flush=True)
    for tool, runs in results.items():
        if runs:
            summarize(tool, runs)


if __name__ == "__main__":
    main()
