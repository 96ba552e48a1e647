"""Inspect a trained run: what did the model do to one user?

`Inspector(run_dir)` loads the run's best checkpoint (weights_only), its dataset and
method once; its methods are then cheap and safe to call from a worker thread (model
calls hold a lock). Scoring goes through the same path as evaluation
(`evaluation.dense_rows` on the run's training matrix, T-DiffRec weights included, the run's
`eval_precision`, `metrics.mask_` / `metrics.per_user`), so per-user metrics agree with
the evaluation's.

One ranking, the test metric's: the top-K a user is shown (`UserView.top`), `--inspect`
and `recommend_all` (the CSV export) rank with the training and validation items excluded,
so the hits shown are the test hits that the user's test Recall/NDCG count, and
re-scoring the export against the test split gives the run's test metrics. The per-user
*valid* metrics rank with only the training items excluded, as validation does.

Ids: what a person reads is the dataset's own ids (the run's tokens.json, or the
dataset's tokens) and item titles; npy and synthetic data have dense ids only.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch

from engine.records import tokens
from engine.training import budget
from engine.training import metrics
from engine.training import evaluation
from engine.data import dataset
from engine.errors import InputError
from engine.inspection import export, loading
from engine.inspection.views import HistoryEntry, Rec, UserScore, UserTable, UserView, WhatIf, compare_views
from engine.records.runs import RunDir

DEFAULT_TOPK = 20
RANK_METRIC = "recall@20"  # what best/worst users are ranked by
VIEW_METRICS = ("Recall", "NDCG")  # always computed per user, besides the run's own metrics


# ---------------------------------------------------------------- results


# ---------------------------------------------------------------- the inspector

class Inspector:
    def __init__(self, run_dir: str | Path, device: str | None = None):
        self.run = RunDir(Path(run_dir).expanduser())
        self.path = self.run.path.resolve() if self.run.path.exists() else self.run.path
        ckpt = loading.load_checkpoint(self.run)
        self.cfg = ckpt["config"]  # through the schema, like a config file
        self.checkpoint_epoch = ckpt.get("epoch")
        self.checkpoint_valid = ckpt.get("valid") or {}
        self.checkpoint_test = ckpt.get("test") or {}
        self.ds = loading.load_dataset(self.cfg, ckpt, self.path)
        self.device = loading.device(device or self.cfg["device"])
        budget.check(self.cfg, self.ds.n_users, self.ds.n_items, training=False, device=self.device)
        self.method = loading.load_method(self.cfg, self.ds, self.device, ckpt, self.path)
        self.train_in = dataset.model_input(self.cfg, self.ds)
        self._traj_ok = "trajectory" in self.method.predict_options
        self._gen_ok = "generator" in self.method.predict_options
        self._lock = threading.RLock()
        self._table_lock = threading.Lock()  # one all-users pass at a time
        self._table: UserTable | None = None
        self.tokens = tokens.read(self.run.tokens_file, self.ds.n_users, self.ds.n_items) or \
            tokens.TokenMap.of(self.ds)
        titles = (self.tokens.titles if self.tokens else None) or self.ds.item_names
        self.has_titles = bool(titles)
        self.names = list(titles) if titles else [self.item_id(i) for i in range(self.ds.n_items)]
        self.names = [str(n) for n in self.names]
        self._lower = [n.lower() for n in self.names]

    # ------------------------------------------------------------ basics

    @property
    def n_users(self) -> int:
        return self.ds.n_users

    @property
    def n_items(self) -> int:
        return self.ds.n_items

    @property
    def model(self) -> str:
        return self.cfg["model"]

    def name(self, item: int) -> str:
        return self.names[item]

    def user_id(self, user: int):
        """The dataset's own id of a (dense) user: its token, or the dense id for npy data."""
        return self.tokens.users[user] if self.tokens else int(user)

    def item_id(self, item: int):
        return self.tokens.items[item] if self.tokens else int(item)

    def find_user(self, text) -> int:
        """The dense user of a dataset id as a person types it (a token, or a dense id for
        data without tokens); InputError when there is no such user."""
        text = str(text).strip()
        if self.tokens:
            u = self.tokens.user_index(text)
            if u is None:
                sample = ", ".join(self.tokens.users[:3])
                raise InputError(f"user: `{text}` is not a user of this run's dataset (its own ids, e.g. {sample})")
            return u
        try:
            return self.check_user(int(text))
        except ValueError:
            raise InputError(f"user: `{text}` is not a user id; this run's dataset has users "
                             f"0..{self.ds.n_users - 1}") from None

    def find_item(self, text) -> int | None:
        """The dense item of a dataset id (None if no item has it)."""
        text = str(text).strip()
        if self.tokens:
            return self.tokens.item_index(text)
        return int(text) if text.isdigit() and int(text) < self.ds.n_items else None

    def check_user(self, user: int) -> int:
        if not isinstance(user, (int, np.integer)) or not 0 <= int(user) < self.ds.n_users:
            raise InputError(f"user: {user} is out of range; this run's dataset has users 0..{self.ds.n_users - 1}")
        return int(user)

    def _check_topk(self, topk: int | None) -> int:
        k = DEFAULT_TOPK if topk is None else int(topk)
        if k < 1:
            raise InputError(f"topk: {topk} must be at least 1")
        return min(k, self.ds.n_items)

    def search_items(self, text: str, limit: int = 50) -> list[tuple[int, str]]:
        """Items whose name contains `text` (case-insensitive); an item id matches too."""
        text = text.strip().lower()
        if not text:
            return []
        out: list[tuple[int, str]] = []
        exact = self.find_item(text)
        if exact is not None:
            out.append((exact, self.names[exact]))
        for i, n in enumerate(self._lower):
            if len(out) >= limit:
                break
            if text in n and not (out and out[0][0] == i):
                out.append((i, self.names[i]))
        return out

    # ------------------------------------------------------------ scoring

    def _predict(self, x: torch.Tensor, seed: int, trajectory: list | None = None) -> torch.Tensor:
        """method.predict exactly as evaluation.score_users calls it, seeded, with the trajectory
        collected when the method supports it."""
        kw = {}
        if trajectory is not None and self._traj_ok:
            kw["trajectory"] = trajectory
        if self._gen_ok:
            kw["generator"] = torch.Generator(device=self.device).manual_seed(seed)
        with self._lock, _seeded(seed, self.device):
            return evaluation.predict(self.method, x, self.cfg["eval_precision"], **kw)

    def user(self, user: int, topk: int | None = None, seed: int = 0) -> UserView:
        """The user's history, held-out items, reverse trajectory, top-K and metrics."""
        user = self.check_user(user)
        hist = self.ds.history(user)
        x = evaluation.dense_rows(self.train_in, np.array([user]), self.device)
        weights = x[0, torch.from_numpy(hist).to(self.device)].cpu().numpy()
        return self._view(user, hist, weights, x, self._check_topk(topk), seed)

    def what_if(self, user: int, remove: list[int] = (), add: list[int] = (), topk: int | None = None,
                seed: int = 0, before: UserView | None = None) -> WhatIf:
        """Re-denoise the user with items removed from / added to the history (added items
        count as the newest interactions, so T-DiffRec weights are recomputed by position).
        Nothing in the run or dataset changes. Pass `before` (this user's view with the same
        topk and seed) to skip re-scoring the original."""
        user = self.check_user(user)
        k = self._check_topk(topk)
        hist = self.ds.history(user)
        remove = [int(i) for i in dict.fromkeys(remove)]
        add = [int(i) for i in dict.fromkeys(add)]
        in_hist = set(hist.tolist())
        for i in remove:
            if i not in in_hist:
                raise InputError(f"what-if: item {i} is not in user {user}'s history; remove one of its items")
        for i in add:
            if not 0 <= i < self.ds.n_items:
                raise InputError(f"what-if: item {i} is out of range; items are 0..{self.ds.n_items - 1}")
            if i in in_hist and i not in remove:
                raise InputError(f"what-if: item {i} is already in user {user}'s history")
        gone = set(remove)
        new_hist = np.array([i for i in hist.tolist() if i not in gone] + add, dtype=np.int64)
        weights = self._weights(len(new_hist))
        x = torch.zeros((1, self.ds.n_items), dtype=torch.float32)
        x[0, torch.from_numpy(new_hist)] = torch.from_numpy(weights)
        if before is None or (before.user, before.topk, before.seed) != (user, k, seed):
            before = self.user(user, k, seed)
        after = self._view(user, new_hist, weights, x.to(self.device), k, seed)
        return compare_views(before, after, remove, add, self.names)

    def _weights(self, n: int) -> np.ndarray:
        """Input values of a history of n items, oldest first, as Dataset.train_matrix makes them."""
        if not self.cfg["time-aware"]:
            return np.ones(n, dtype=np.float32)
        return dataset.time_weights(np.arange(n), np.full(n, n), self.cfg["w_min"], self.cfg["w_max"])

    def _view(self, user: int, hist: np.ndarray, weights: np.ndarray, x: torch.Tensor, k: int,
              seed: int) -> UserView:
        traj: list[torch.Tensor] = []
        scores = self._predict(x, seed, traj)
        latent = not self._traj_ok or any(t.shape[-1] != self.ds.n_items for t in traj)
        if not self._traj_ok:
            traj = [scores]
        hist_csr = _row_csr(hist, self.ds.n_items)
        valid_csr, test_csr = self.ds.valid[[user]], self.ds.test[[user]]
        names = sorted({*VIEW_METRICS, *self.cfg["metrics"]})
        ranked = scores.clone()
        metrics.mask_(ranked, hist_csr)
        m_valid = metrics.per_user(torch.topk(ranked, k).indices, valid_csr, [k], names)
        metrics.mask_(ranked, valid_csr)
        shown = torch.topk(ranked, k)  # the test metric's list: history and valid items excluded
        m_test = metrics.per_user(shown.indices, test_csr, [k], names)
        valid_items, test_items = valid_csr.indices.astype(np.int64), test_csr.indices.astype(np.int64)
        vset, tset = set(valid_items.tolist()), set(test_items.tolist())
        top = [Rec(r + 1, int(i), self.names[int(i)], float(s), int(i) in tset, int(i) in vset)
               for r, (i, s) in enumerate(zip(shown.indices[0].tolist(), shown.values[0].tolist()))
               if math.isfinite(s)]  # -inf: excluded history items (fewer than K candidates)
        history = [HistoryEntry(p, int(i), self.names[int(i)], float(w))
                   for p, (i, w) in enumerate(zip(hist.tolist(), weights.tolist()))]
        return UserView(user, k, seed, history, valid_items, test_items, x[0].cpu().numpy(),
                        [t[0].float().cpu().numpy() for t in traj], latent, scores[0].cpu().numpy(), top,
                        {"test": _floats(m_test), "valid": _floats(m_valid)})

    # ------------------------------------------------------------ all users

    def _batches(self, batch_size: int | None = None) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """(users, scores) for every user, batched like trainer.evaluate, seeded by the run's seed."""
        step = batch_size or evaluation.eval_batch_size(self.cfg, self.ds.n_items)
        users = np.arange(self.ds.n_users)
        for lo in range(0, len(users), step):
            rows = users[lo:lo + step]
            with self._lock, _seeded(self.cfg["seed"] + lo, self.device):
                scores = evaluation.score_users(self.method, self.train_in, rows, self.device,
                                             self.cfg["eval_precision"])
            yield rows, scores

    def user_table(self, progress: Callable[[int, int], None] | None = None,
                   batch_size: int | None = None) -> UserTable:
        """Per-user valid and test metrics of all users (computed once, then cached).
        Each batch holds the model lock on its own, so single-user calls from other threads
        run between batches; `progress` may raise to abandon the pass."""
        with self._table_lock:
            if self._table is not None:
                return self._table
            topk = sorted({*self.cfg["topk"], 20})
            names = sorted({*self.cfg["metrics"], *VIEW_METRICS})
            kmax = min(max(topk), self.ds.n_items)
            parts_v: list[dict] = []
            parts_t: list[dict] = []
            for rows, scores in self._batches(batch_size):
                v, t = evaluation.split_metrics(scores, self.train_in[rows], self.ds.valid[rows], self.ds.test[rows],
                                                topk, names, kmax)
                parts_v.append(v)
                parts_t.append(t)
                if progress:
                    progress(int(rows[-1]) + 1, self.ds.n_users)
            cat = lambda parts: {k: torch.cat([p[k] for p in parts]).cpu().numpy() for k in parts[0]}
            self._table = UserTable(cat(parts_v), cat(parts_t), np.diff(self.train_in.indptr),
                                    np.diff(self.ds.valid.indptr), np.diff(self.ds.test.indptr))
            return self._table

    def _ranked_users(self, metric: str, split: str) -> tuple[UserTable, np.ndarray, np.ndarray]:
        table = self.user_table()
        values = getattr(table, split).get(metric)
        if values is None:
            raise InputError(f"inspect: metric `{metric}` is not computed; use one of {', '.join(table.test)}")
        eligible = np.flatnonzero((table.n_test if split == "test" else table.n_valid) > 0)
        return table, values, eligible

    def _scores(self, table, values, users) -> list[UserScore]:
        return [UserScore(int(u), float(values[u]), int(table.n_history[u]), int(table.n_test[u])) for u in users]

    def best_users(self, n: int = 20, metric: str = RANK_METRIC, split: str = "test") -> list[UserScore]:
        """The n best-served users (among those with held-out items), best first."""
        table, values, eligible = self._ranked_users(metric, split)
        order = eligible[np.lexsort((eligible, -values[eligible]))]
        return self._scores(table, values, order[:n])

    def worst_users(self, n: int = 20, metric: str = RANK_METRIC, split: str = "test") -> list[UserScore]:
        """The n worst-served users (among those with held-out items), worst first."""
        table, values, eligible = self._ranked_users(metric, split)
        order = eligible[np.lexsort((eligible, values[eligible]))]
        return self._scores(table, values, order[:n])

    def random_users(self, n: int = 20, seed: int | None = None, metric: str = RANK_METRIC,
                     split: str = "test") -> list[UserScore]:
        table, values, eligible = self._ranked_users(metric, split)
        pick = np.random.default_rng(seed).choice(eligible, size=min(n, len(eligible)), replace=False)
        return self._scores(table, values, pick)

    # ------------------------------------------------------------ export

    def recommend_all(self, topk: int | None = None, exclude_valid: bool = True,
                      batch_size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Every user's top-K in one vectorized pass, batched over users: yields (users,
        items (B, K), scores (B, K)); excluded items (history, and valid unless
        exclude_valid is False) score -inf and never appear above a candidate."""
        k = self._check_topk(topk)
        for rows, scores in self._batches(batch_size):
            metrics.mask_(scores, self.train_in[rows])
            if exclude_valid:
                metrics.mask_(scores, self.ds.valid[rows])
            top = torch.topk(scores, k)
            yield rows, top.indices.cpu().numpy(), top.values.cpu().numpy()

    def export_recs(self, out: str | Path, topk: int | None = None,
                    progress: Callable[[int, int], None] | None = None, batch_size: int | None = None) -> int:
        """Write user,rank,item[,title],score rows (the test ranking: train and valid items
        excluded; the dataset's own ids, titles when known) to a CSV, atomically; returns
        the number of rows."""
        out = export.check_export_target(out)
        titles = self.names if self.tokens is not None and self.has_titles else None
        batches = self.recommend_all(topk, batch_size=batch_size)
        return export.write_recs(out, batches, self.tokens, titles, self.ds.n_users, progress)


# ---------------------------------------------------------------- helpers


class _seeded:
    """Fix torch's global RNG for a block (for methods that draw noise without a generator),
    leaving the caller's RNG state as it was."""

    def __init__(self, seed: int, device: torch.device):
        self.seed, self.device = seed, device

    def __enter__(self):
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        self._fork = torch.random.fork_rng(devices=devices)
        self._fork.__enter__()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)


def _row_csr(items: np.ndarray, n_items: int) -> sp.csr_matrix:
    items = np.sort(np.asarray(items, dtype=np.int64))
    return sp.csr_matrix((np.ones(len(items), dtype=np.float32), items, [0, len(items)]), shape=(1, n_items))


def _floats(values: dict[str, torch.Tensor]) -> dict[str, float]:
    return {k: float(v[0]) for k, v in values.items()}


