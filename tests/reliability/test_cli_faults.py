"""Conflicting or meaningless flag combinations: refused with one line and exit 2 before
anything runs (a flag that would be silently ignored is a mistake the user should hear of)."""
from __future__ import annotations

import pytest

from faults import cli, one_line, runs_in, tiny

# (arguments, words of the message); C = a config, H = a hyper.test, R = a run dir, S = a sweep.
CASES = [
    ("--run C --tune H --config C", ["--run and --tune", "give one"]),
    ("--run C --resume R", ["--run and --resume", "give one"]),
    ("--run C --compare C", ["--run and --compare"]),
    ("--compare C --tune H --config C", ["--compare and --tune"]),
    ("--inspect R --user 0 --export-recs R OUT", ["--inspect and --export-recs"]),
    ("--tune H --inspect R --user 0", ["--tune and --inspect"]),
    ("C --run C", ["CONFIG (the app's config) does not go with --run"]),
    ("--user 3", ["--user does not go with the app", "--inspect"]),
    ("--run C --user 3", ["--user does not go with --run", "--inspect"]),
    ("--run C --models Pop", ["--models does not go with --run", "--compare"]),
    ("--run C --trials 3", ["--trials does not go with --run", "--tune"]),
    ("--run C --workers 2", ["--workers does not go with --run", "--tune"]),
    ("--run C --json", ["--json does not go with --run", "--inspect"]),
    ("--run C --topk 5", ["--topk does not go with --run"]),
    ("--run C --config C", ["--config does not go with --run", "--tune"]),
    ("--resume R --set steps=3", ["--set does not go with --resume"]),
    ("--resume R --device cpu", ["--device does not go with --resume"]),
    ("--resume S --models Pop", ["--models does not go with --resume"]),
    ("--resume S --user 1", ["--user does not go with --resume"]),
    ("--inspect R --user 0 --runs-dir D", ["--runs-dir does not go with --inspect"]),
    ("--inspect R --user 0 --set steps=3", ["--set does not go with --inspect"]),
    ("--export-recs R OUT --json", ["--json does not go with --export-recs"]),
    ("--export-recs R OUT --user 2", ["--user does not go with --export-recs"]),
    ("--tune H --config C --models Pop", ["--models does not go with --tune"]),
    ("--compare C --trials 2", ["--trials does not go with --compare"]),
    ("--inspect R --user 0 --topk 100000000", ["--topk 100000000 is more than"]),
    ("--tune H --config C --trials 100000000", ["--trials 100000000 is more than"]),
    ("--tune H --config C --workers 5000", ["--workers 5000 is more than"]),
]


@pytest.fixture
def paths(tmp_path):
    """Stand-ins for every kind of argument; a real run and sweep directory are not needed
    because every case is refused before anything is read."""
    run = tmp_path / "runs" / "20250101-000000-DiffRec-tiny"
    run.mkdir(parents=True)
    tiny(run / "config.yaml")
    (run / "resume.pt").write_bytes(b"x")
    (run / "checkpoint.pt").write_bytes(b"x")
    sweep = tmp_path / "runs" / "sweep-20250101-000000-hyper"
    sweep.mkdir()
    (sweep / "sweep.yaml").write_text("plan: []\nbase: {}\n")
    hyper = tmp_path / "hyper.test"
    hyper.write_text("learning_rate choice [0.001,0.002]\n")
    return {"C": tiny(tmp_path / "c.yaml"), "H": hyper, "R": run, "S": sweep, "D": tmp_path / "other",
            "OUT": tmp_path / "out.csv"}


@pytest.mark.parametrize("argv, words", CASES, ids=[c[0] for c in CASES])
def test_conflicting_or_meaningless_flags_exit_2(tmp_path, paths, argv, words):
    args = [str(paths.get(a, a)) for a in argv.split()]
    before = sorted(p.name for p in (tmp_path / "runs").iterdir())
    res = cli(*args, timeout=60)
    one_line(res, 2, "diffrec-tui: ", *words)
    assert res.stdout == ""
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == before  # nothing ran
    assert not paths["OUT"].exists() and not paths["D"].exists()


def test_every_option_is_in_the_table():
    """The table that refuses combinations knows every option the parser has."""
    from diffrec_tui.cli import OPTIONS, build_parser
    dests = {a.dest for a in build_parser()._actions if a.dest != "help"}
    known = set().union(*OPTIONS.values())
    assert dests == known, dests ^ known


def test_a_runs_name_resumes_under_runs_dir(tmp_path):
    """--runs-dir is not meaningless with --resume: RUN_DIR may be a run's name in it."""
    runs = tmp_path / "runs"
    (runs / "20250101-000000-DiffRec-tiny").mkdir(parents=True)
    res = cli("--resume", "20250101-000000-DiffRec-tiny", "--runs-dir", runs)
    one_line(res, 2, str(runs / "20250101-000000-DiffRec-tiny"), "not a run directory")
    assert runs_in(runs) == [runs / "20250101-000000-DiffRec-tiny"]
