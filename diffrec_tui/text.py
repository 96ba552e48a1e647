"""Text both front ends show (the screens and the headless commands): which metrics a line
names, one line per event, a trial's status colour and time. No Rich, no Textual, no torch."""
from __future__ import annotations

from engine.records.sweeps import SweepInfo, TrialInfo


HEADLINE_KEYS = ("recall@20", "ndcg@20")


def headline_keys(cfg: dict | None) -> tuple[str, ...]:
    """The metrics a line shows: the config's valid_metric first, then NDCG and Recall at
    its K where the config computes them (RecBole's MRR@10: mrr@10 ndcg@10 recall@10)."""
    from engine.config.fields import parse_metric

    vm = parse_metric(str((cfg or {}).get("valid_metric", "")))
    if vm is None:
        return HEADLINE_KEYS
    names = [str(m).lower() for m in cfg.get("metrics") or []]
    keys = [f"{vm[0]}@{vm[1]}"] + [f"{n}@{vm[1]}" for n in ("ndcg", "recall") if n in names]
    return tuple(dict.fromkeys(keys))


def fmt_metrics(m: dict, keys=HEADLINE_KEYS) -> str:
    """The headline metrics, or the first two a run computes when it has none of them."""
    shown = [k for k in keys if k in m] or list(m)[:2]
    return " ".join(f"{k} {m[k]:.4f}" for k in shown)


def split_text(d: dict) -> str:
    """'train/valid/test 80808/9596/9596 (recbole 0.8/0.1/0.1 RO), 34 held-out items ...'."""
    if "n_valid" not in d:
        return f"{d.get('n_train')} train interactions"
    how = f" ({d['split']})" if d.get("split") else ""
    text = f"train/valid/test {d.get('n_train')}/{d.get('n_valid')}/{d.get('n_test')}{how}"
    unseen, dropped = d.get("unseen_targets", 0), d.get("unseen_dropped", 0)
    if dropped:
        return text + f", {dropped} held-out items unseen in training dropped"
    if unseen:
        return text + f", {unseen} held-out items unseen in training kept as targets (misses)"
    return text


def describe(ev: dict, keys=HEADLINE_KEYS) -> str:
    """One plain line for an event; `keys` are the metrics an eval line shows."""
    t = ev["type"]
    if t == "started":
        d = ev.get("dataset", {})
        return (f"started {ev.get('model')} on {ev.get('device')}: {d.get('n_users')} users x {d.get('n_items')} items, "
                f"{split_text(d)}, {ev.get('parameters')} parameters")
    if t == "epoch":
        return f"epoch {ev['epoch']}/{ev.get('epochs', '?')} loss {ev['loss']:.4f} ({ev['seconds']:.2f}s)"
    if t == "eval":
        return (f"eval epoch {ev['epoch']}: valid {fmt_metrics(ev['valid'], keys)} | "
                f"test {fmt_metrics(ev['test'], keys)} ({ev['seconds']:.2f}s)")
    if t == "checkpoint":
        return f"checkpoint epoch {ev['epoch']}"
    if t in ("finished", "stopped", "pruned"):
        return f"{t} after {ev.get('epochs_run')} epochs (best epoch {ev.get('best_epoch')}): {ev.get('reason', '')}"
    if t == "failed":
        return f"failed: {ev.get('reason')}"
    return t


def trial_keys(info: SweepInfo) -> list[str]:
    """Metric keys shown for a trial: the validation metric first, then NDCG and Recall at the same K."""
    return list(headline_keys({"valid_metric": info.metric, "metrics": info.meta["base"].get("metrics", [])}))


def seconds_cell(t: TrialInfo) -> str:
    """A trial's seconds, or `=N` when it took trial N's result (same config, not run)."""
    if t.same_as is not None:
        return f"={t.same_as}"
    return f"{t.seconds:.0f}" if t.seconds else "-"


STATUS_STYLE = {"running": "cyan", "finished": "green", "failed": "red", "stopped": "yellow",
                "skipped": "dim", "pending": "dim", "dead": "red", "pruned": "magenta"}
