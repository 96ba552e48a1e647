"""Bad data files: one line naming the file (and line or row) and the fix, exit 2, from the
worker, with no traceback in worker.log and nothing allocated for ids that do not fit."""
from __future__ import annotations

import json

import numpy as np
import pytest

from faults import cli, no_traceback_in_logs, one_line, runs_in, worker_in_process, write_yaml

GOOD = np.array([[0, 0], [0, 1], [1, 1], [1, 2], [2, 0], [2, 2]])


def npy_folder(tmp_path, **arrays):
    folder = tmp_path / "split"
    folder.mkdir()
    for name in ("train", "valid", "test"):
        np.save(folder / f"{name}_list.npy", arrays.get(name, GOOD))
    return folder


def run_data(tmp_path, fmt: str, path, capsys=None, **over):
    """--run on this data through the CLI; with capsys, the worker's boundary in this
    process instead (the same code path after spawning, without two interpreters' start-up)."""
    raw = {"dataset": "bad", "data_format": fmt, "data_path": str(path), "device": "cpu", "threads": 1,
           "dims_dnn": [8], **over}
    runs = tmp_path / "runs"
    if capsys is None:
        res = cli("--run", write_yaml(tmp_path / "c.yaml", raw), "--runs-dir", runs)
    else:
        from engine.config import schema as config
        from engine.records.runs import RunDir
        res = worker_in_process(capsys, RunDir.create(runs, config.resolve(raw)).path, resume=False)
    no_traceback_in_logs(runs)
    for run in runs_in(runs):  # the failure is recorded as bad input, the run is not "running"
        assert json.loads((run / "summary.json").read_text())["kind"] == "input"
    return res


def test_an_id_of_2_to_the_40_is_refused_before_allocating(tmp_path):
    folder = npy_folder(tmp_path, test=np.array([[1, 2 ** 40]]))
    one_line(run_data(tmp_path, "diffrec_npy", folder), 2, "test_list.npy", f"item id {2 ** 40}", "row 0",
             "too large")


def test_ids_whose_model_would_not_fit_are_refused_by_the_estimate(tmp_path):
    """2^27 items: the id arrays fit, a 64-wide model over them (~137 GB with AdamW) does not."""
    folder = npy_folder(tmp_path, valid=np.array([[0, 2 ** 27 - 1]]))
    one_line(run_data(tmp_path, "diffrec_npy", folder, dims_dnn=[64]), 2, "needs ~", "the model's weights",
             "lower dims_dnn")


@pytest.mark.parametrize("name, content, words", [
    ("train_list.npy", b"", ["train_list.npy", "empty file"]),
    ("valid_list.npy", b"\x93NUMPY garbage that is no header", ["valid_list.npy", "not a readable .npy"]),
    ("item_emb.npy", b"not an array at all", ["item_emb.npy", "not a readable .npy"]),
    ("item_emb.npy", "object", ["item_emb.npy", "object array"]),
    ("item_emb.npy", "strings", ["item_emb.npy", "real numbers"]),
    ("train_list.npy", "truncated", ["train_list.npy", "truncated"]),
], ids=["empty-split", "corrupt-split", "corrupt-emb", "object-emb", "string-emb", "truncated-header"])
def test_unreadable_npy_files(tmp_path, name, content, words, capsys):
    folder = npy_folder(tmp_path)
    target = folder / name
    if content == "object":
        np.save(target, np.array([{"a": 1}, None, 3], dtype=object), allow_pickle=True)
    elif content == "strings":
        np.save(target, np.array([["a"], ["b"], ["c"]]))
    elif content == "truncated":  # a header that claims 10^12 rows over a few bytes
        with open(target, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<i8", "fortran_order": False,
                                                      "shape": (10 ** 12, 2)})
            fh.write(GOOD.astype("<i8").tobytes())
    else:
        target.write_bytes(content)
    one_line(run_data(tmp_path, "diffrec_npy", folder, capsys), 2, "data: ", *words)


INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def inter_rows(n=40):
    return "".join(f"u{u}\ti{(u * 7 + k) % 15}\t5\t{k}\n" for u in range(8) for k in range(n // 8))


# (format, file name, content, words, through the CLI end to end rather than the worker in-process)
TEXT_CASES = [
    ("atomic", "x.inter", (INTER_HEADER + "u1\tcaf\u00e9\t5\t1\n" + inter_rows()).encode("latin-1"),
     ["x.inter line 2", "not UTF-8", "0xe9", "iconv"], True),
    ("csv", "x.csv", ("user,item\n" + "1,2\n" * 50 + "3,cr\u00e8me\n").encode("latin-1"),
     ["x.csv line 52", "not UTF-8", "0xe8"], False),
    ("csv", "x.csv", ("user,item\n1,2\n" + "1,\"" + "x" * 200_000 + "\"\n").encode(),
     ["x.csv line 3", "field larger than field limit"], False),
    ("csv", "x.csv", ("user,item\n1,2\n1," + "y" * 1000 + "\n").encode(), ["x.csv: line 3", "1000 characters"], False),
    ("csv", "x.csv", "user,item\n1,2\n".encode("utf-16-le"), ["x.csv line 1", "NUL bytes", "UTF-16"], False),
    ("atomic", "x.inter", ("user_id:token\titem_id:token\n1\t\"2\n" + "3\t4\n" * 2000).encode(),
     ["x.inter: line 2002", "8002 characters", "quote left open"], False),
]


@pytest.mark.parametrize("fmt, name, content, words, e2e", TEXT_CASES,
                         ids=["latin1-inter", "latin1-csv", "200kb-token", "long-id", "utf16-csv", "unclosed-quote"])
def test_text_files_in_other_encodings_or_with_huge_fields(tmp_path, fmt, name, content, words, e2e, capsys):
    path = tmp_path / name
    path.write_bytes(content)
    one_line(run_data(tmp_path, fmt, path, None if e2e else capsys), 2, "data: ", *words)


def test_a_file_that_is_not_data_is_not_read_and_not_printed(tmp_path):
    """A passwd-like file given as csv: refused by its name before a byte is read, and its
    content never ends up in a message."""
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/usr/sbin/nologin\n")
    res = run_data(tmp_path, "csv", secret)
    one_line(res, 2, str(secret), "reads .csv", absent=("root:x", "bin/bash"))


def test_a_device_is_not_read_forever(tmp_path, capsys):
    one_line(run_data(tmp_path, "csv", "/dev/zero", capsys), 2, "/dev/zero", "not a regular file")


def test_a_header_shown_in_a_message_is_cut_short(tmp_path, capsys):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"column{i}_" + "z" * 100 for i in range(50)) + "\n1,2\n")
    line = one_line(run_data(tmp_path, "csv", path, capsys), 2, "no user column", "(50 columns)")
    assert len(line) < 700 and "z" * 40 not in line
