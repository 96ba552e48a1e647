"""A canned comparison directory (what `--compare --seeds 1,2,3` writes), built with the
engine's own writers, fixed names and seeded made-up per-user metrics: no training."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from engine.records import comparison as comparison

from engine.records import per_user as per_user

from engine.records import seeds as seeds
from engine.config import schema as config_mod
from engine.records.runs import RunDir

NAME = "compare-20250304-100000-synthetic"
WHEN = datetime(2025, 3, 4, 10, 0, 0)
N_USERS = 150
# model -> (mean level of its users' recall@20, spread between seeds, tuned values)
MODELS = {"Pop": (0.10, 0.0, {}), "EASE": (0.30, 0.0, {"reg_weight": 500.0}),
          "MultiVAE": (0.27, 0.006, {"dropout_prob": 0.5, "anneal_cap": 0.2}), "DiffRec": (0.29, 0.008, {})}


def make(root: Path) -> Path:
    path = root / NAME
    path.mkdir(parents=True)
    rng = np.random.default_rng(16)
    users = rng.beta(2, 5, N_USERS)  # how easy each user is, shared by every model
    base = config_mod.resolve({"dataset": "synthetic", "data_format": "synthetic", "topk": [10, 20],
                               "metrics": ["Recall", "NDCG"]})
    rec = {"dataset": "synthetic", "models": list(MODELS), "seeds": [1, 2, 3], "valid_metric": "recall@20",
           "keys": ["recall@20", "ndcg@20"], "status": "finished", "created": WHEN.isoformat(), "entries": {}}
    for model, (level, jitter, tuned) in MODELS.items():
        cfg = config_mod.resolve({**base, "model": model, **tuned})
        sd = seeds.create(path, cfg, [1, 2, 3], now=WHEN)
        for i, s in enumerate((1, 2, 3), start=1):
            shift = jitter * (s - 2)
            recall = np.clip(users * level / 0.25 + rng.normal(shift, 0.08, N_USERS), 0, 1)
            ndcg = recall * 0.6
            run = RunDir.create(sd.path, {**cfg, "seed": s}, now=WHEN)
            per_user.write(run.path, {"recall@20": recall, "ndcg@20": ndcg}, "fp-canned")
            test = {"recall@20": float(recall.mean()), "ndcg@20": float(ndcg.mean())}
            valid = {k: v * 0.8 for k, v in test.items()}
            run.write_summary({"status": "finished", "best_epoch": 1, "epochs_run": 1, "valid": valid, "test": test})
            sd.record({"trial": i, "status": "finished", "params": {"seed": s}, "run": run.path.name,
                       "value": valid["recall@20"], "valid": valid, "test": test, "best_epoch": 1, "epochs": 1,
                       "seconds": 1.0})
        rec["entries"][model] = {"group": sd.path.name, "tuning": "sweep-tune" if tuned else None, "tuned": tuned}
    rec["result"] = comparison.analyse(comparison.groups(path, rec), rec["keys"], "recall@20")
    comparison.write(path, rec)
    return path
