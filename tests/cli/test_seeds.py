"""--seeds: one run per seed in a group directory, mean ± sample SD, resumable; and
--significance between runs and groups."""
from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
import yaml
from scipy import stats

from diffrec_tui import cli
from engine.config import files as config_files
from engine.config import schema as config_mod
from engine.errors import ConfigError
from engine.data import loaders as data
from engine.records import per_user as per_user
from engine.records import seeds as seeds
from engine.records.runs import RunDir
from engine.analysis.significance import format_p
from engine.processes.sweep_runner import Runner
from engine.records.sweeps import load_sweep
from engine.training.trainer import fit_into

TINY = {"model": "DiffRec", "dataset": "tiny", "data_format": "synthetic", "synthetic_users": 200,
        "synthetic_items": 80, "synthetic_interactions": 15, "synthetic_clusters": 4, "dims_dnn": [32],
        "steps": 5, "epochs": 4, "eval_step": 2, "topk": [10, 20], "metrics": ["Recall", "NDCG"],
        "device": "cpu", "threads": 1, "seed": 7}


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    return path


def test_parse_seeds():
    assert seeds.parse("3, 1,2") == [3, 1, 2] and seeds.parse("1-3,5,2") == [1, 2, 3, 5]
    for bad in ("", "1,x", "-1", "1-", str(2 ** 32)):
        with pytest.raises(ConfigError, match="--seeds"):
            seeds.parse(bad)


def test_run_with_seeds_makes_a_group_with_mean_and_sd(config_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert cli.main(["--run", str(config_file), "--seeds", "1,2", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    (group,) = [p for p in runs.iterdir() if p.is_dir()]
    assert seeds.is_group(group) and group.name.startswith("sweep-") and "seeds_DiffRec" in group.name
    g = seeds.load(group)
    assert sorted(g.runs) == [1, 2] and not g.missing
    tests = []
    for s, run in g.runs.items():
        assert run.parent == group and yaml.safe_load((run / "config.yaml").read_text())["seed"] == s
        summary = json.loads((run / "summary.json").read_text())
        assert per_user.read(run).metrics["recall@20"].mean() == pytest.approx(summary["test"]["recall@20"], abs=1e-6)
        tests.append(summary["test"]["recall@20"])
    assert tests[0] != tests[1]  # the seeds differ
    text = f"{statistics.mean(tests):.4f} ± {statistics.stdev(tests):.4f}"
    assert text in out and "mean ± SD" in out and "best trial" not in out  # a group has no best seed


def test_a_stopped_group_resumes_only_its_missing_seeds(config_file, tmp_path, capsys):
    cfg = config_files.load(config_file)
    sd = seeds.create(tmp_path / "runs", cfg, [1, 2, 3])
    stop = {"now": False}

    def on_update(t):
        if t.status == "finished":
            stop["now"] = True

    Runner(sd.path, workers=1, threads=1).run(should_stop=lambda: stop["now"], on_update=on_update)
    first = seeds.load(sd.path)
    assert sorted(first.runs) == [1] and first.missing == [2, 3]
    events = (first.runs[1] / "events.jsonl").read_bytes()

    assert cli.main(["--resume", str(sd.path)]) == 0
    out = capsys.readouterr().out
    g = seeds.load(sd.path)
    assert sorted(g.runs) == [1, 2, 3] and g.runs[1] == first.runs[1]
    assert (g.runs[1] / "events.jsonl").read_bytes() == events  # seed 1 was not trained again
    assert "3 of 3 seeds finished" in out and g.spread("test", "recall@20").text() in out
    assert load_sweep(sd.path).status == "finished"


def test_significance_of_two_runs_is_scipys(config_file, tmp_path, capsys):
    cfg = config_files.load(config_file)
    ds = data.load(cfg)
    dirs = []
    for s in (1, 2):
        c = config_mod.resolve({**cfg, "seed": s})
        run = RunDir.create(tmp_path / "runs", c)
        fit_into(run, c, ds)
        dirs.append(run.path)
    assert cli.main(["--significance", str(dirs[0]), str(dirs[1])]) == 0
    out = capsys.readouterr().out
    a, b = (per_user.read(d).metrics["recall@20"] for d in dirs)
    assert format_p(stats.wilcoxon(a, b).pvalue) in out and format_p(stats.ttest_rel(a, b).pvalue) in out
    assert f"{(a - b).mean():+.4f}" in out and f"{len(a)} users, paired" in out

    other = config_mod.resolve({**cfg, "synthetic_seed": 99})  # another data set
    run = RunDir.create(tmp_path / "runs", other)
    fit_into(run, other, data.load(other))
    assert cli.main(["--significance", str(dirs[0]), str(run.path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different data" in err[0]


def test_group_per_user_vectors_are_means_over_seeds(tmp_path):
    fp = "abc"
    for i, vals in enumerate(([0.0, 1.0, 0.5], [1.0, 1.0, 0.0])):
        (tmp_path / str(i)).mkdir()
        per_user.write(tmp_path / str(i), {"recall@20": np.array(vals)}, fp)
    mean, got_fp = seeds.per_user([tmp_path / "0", tmp_path / "1"], "recall@20")
    assert got_fp == fp and mean.tolist() == pytest.approx([0.5, 1.0, 0.25])
    with pytest.raises(Exception, match="no `ndcg@20`"):
        seeds.per_user([tmp_path / "0"], "ndcg@20")
