"""Bad config files and values: one line naming the key or file and the fix, exit 2, no
traceback, and no run directory for a run that never started."""
from __future__ import annotations

import pytest
import yaml

from faults import TINY, cli, one_line, runs_in, tiny, write_yaml


def run_file(tmp_path, text: str | bytes, *extra, env=None):
    path = tmp_path / "bad.yaml"
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    runs = tmp_path / "runs"
    return cli("--run", path, "--runs-dir", runs, *extra, env=env), path, runs


TINY_YAML = yaml.safe_dump(TINY, sort_keys=False)
N = TINY_YAML.count("\n")  # lines of the tiny config the bad lines follow


@pytest.mark.parametrize("over, words", [
    ({"topk": []}, ["topk", "at least one cut-off"]),
    ({"steps": 1_000_000_000}, ["`steps`", "<= 10000"]),
    ({"seed": 1e30}, ["`seed`", "<= 4294967295"]),
    ({"synthetic_seed": -1}, ["`synthetic_seed`", ">= 0"]),  # already held: keep it
    ({"dims_dnn": [100_000_000]}, ["`dims_dnn`", "<= 65536"]),
    ({"train_batch_size": 10 ** 12}, ["`train_batch_size`", "<= 1000000"]),
    ({"epochs": 1e12}, ["`epochs`", "<= 1000000000"]),
    ({1: 2}, ["key 1", "not a name"]),
], ids=["topk-empty", "steps-huge", "seed-1e30", "seed-negative", "dims-huge", "batch-huge", "epochs-huge",
        "key-not-name"])
def test_bad_config_values_exit_2(tmp_path, over, words):
    res, path, runs = run_file(tmp_path, yaml.safe_dump({**TINY, **over}, sort_keys=False))
    one_line(res, 2, *words)
    assert runs_in(runs) == []


@pytest.mark.parametrize("tail, words", [
    ("steps: 5\nsteps: 10\n", [f"line {N + 2}", "`steps`", "twice", f"line {N + 1}"]),
    ("eval_args: {order: TO, order: RO}\n", [f"line {N + 1}", "`order`", "twice"]),
    ("noise_scale: " + "[" * 1_500 + "\n", ["nested too deeply"]),
], ids=["duplicate-key", "duplicate-nested-key", "deep-nesting"])
def test_yaml_that_would_be_misread_exits_2(tmp_path, tail, words):
    res, path, runs = run_file(tmp_path, TINY_YAML + tail)
    one_line(res, 2, str(path), *words)
    assert runs_in(runs) == []


@pytest.mark.parametrize("content, words", [
    (b"\x00\x01\x02\xff\xfe binary", ["binary file"]),
    ("model: DiffRec\ndataset: caf\u00e9\n".encode("latin-1"), ["line 2", "not UTF-8", "0xe9", "save it as UTF-8"]),
    (b"# a comment\n" * 100_000 + b"epochs: 0\n", ["MB, too large for a config"]),
], ids=["binary", "latin-1", "too-large"])
def test_config_file_that_is_not_utf8_yaml_text(tmp_path, content, words):
    res, path, runs = run_file(tmp_path, content)
    assert str(path) in one_line(res, 2, *words)
    assert runs_in(runs) == []


def test_config_path_that_is_a_folder(tmp_path):
    one_line(cli("--run", tmp_path, "--runs-dir", tmp_path / "runs"), 2, str(tmp_path), "is a folder")


def test_yaml_python_tags_are_refused_and_run_nothing(tmp_path):
    """What already held: safe loading; the tag's command never runs."""
    marker = tmp_path / "pwned"
    res, _, runs = run_file(tmp_path, f"steps: !!python/object/apply:os.system ['touch {marker}']\n")
    one_line(res, 2, "not valid YAML", "line 1")
    assert not marker.exists() and runs_in(runs) == []


@pytest.mark.parametrize("override, words", [
    ("seed=99999999999", ["`seed`", "<= 4294967295"]),
    ("steps=1e9", ["`steps`", "<= 10000"]),
    ("history_num_per_term=100000000", ["`history_num_per_term`", "<= 1000"]),
])
def test_bad_set_values_exit_2(tmp_path, override, words):
    res = cli("--run", tiny(tmp_path / "c.yaml"), "--set", override, "--runs-dir", tmp_path / "runs")
    one_line(res, 2, *words)


def test_a_run_that_would_not_fit_in_memory_is_refused_before_it_starts(tmp_path):
    """The estimate, not a crash: DIFFREC_MEMORY_LIMIT stands for a small machine."""
    runs = tmp_path / "runs"
    res = cli("--run", tiny(tmp_path / "c.yaml"), "--runs-dir", runs, env={"DIFFREC_MEMORY_LIMIT": "1M"})
    line = one_line(res, 2, "needs ~", "DIFFREC_MEMORY_LIMIT=1M", "lower")
    assert "eval_batch_size" in line or "train_batch_size" in line
    assert runs_in(runs) == []  # nothing was trained: no failed run folder is left behind


def test_a_runs_config_yaml_that_is_not_utf8(tmp_path):
    run = tmp_path / "runs" / "20250101-000000-DiffRec-tiny"
    run.mkdir(parents=True)
    (run / "config.yaml").write_bytes("dataset: caf\u00e9\n".encode("latin-1"))
    (run / "resume.pt").write_bytes(b"x")
    one_line(cli("--resume", run), 2, str(run / "config.yaml"), "not UTF-8")


NASTY = [[], {}, "", "x" * 10_000, 10 ** 30, -(10 ** 30), 1e308, [[1, 2]], {"a": [1]}, True]


@pytest.mark.parametrize("value", NASTY, ids=lambda v: type(v).__name__ + str(len(str(v))))
def test_any_value_for_any_key_is_a_message_never_a_crash(tmp_path, value, capsys):
    """Every schema key with values of the wrong type or size: the config is refused with
    one line per problem (epochs: 0 makes every file invalid, so no run ever starts)."""
    from diffrec_tui.cli import main
    from engine.config import schema as config

    for key in config.SCHEMA:
        path = write_yaml(tmp_path / "c.yaml", {**TINY, key: value, "epochs": 0})
        code = main(["--run", str(path), "--runs-dir", str(tmp_path / "runs")])
        err = capsys.readouterr().err
        assert code == 2, (key, value, err)
        assert err.count("\n") == 1 and err.startswith("config: ") and "Traceback" not in err, (key, err)
