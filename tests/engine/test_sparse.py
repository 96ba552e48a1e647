"""engine.training.sparse: a CSR matrix on the training device, densified a batch of rows at a time."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from engine.training.sparse import DeviceRows, entries


@pytest.fixture
def matrix():
    rng = np.random.default_rng(0)
    m = sp.random(40, 25, density=0.2, format="csr", random_state=rng, dtype=np.float32)
    keep = np.ones(40, dtype=np.float32)
    keep[7] = 0  # a row without entries
    m = (sp.diags(keep) @ m).tocsr()
    m.eliminate_zeros()
    assert m[7].nnz == 0
    return m


@pytest.mark.parametrize("rows", [[3, 7, 0, 39], [7], list(range(40)), [5, 5, 2]])
def test_rows_densify_like_scipy(matrix, rows):
    rows = np.array(rows)
    d = DeviceRows(matrix, "cpu")
    np.testing.assert_array_equal(d.dense(rows).numpy(), matrix[rows].toarray())
    # the same from a device copy of the row ids, and into a reused buffer
    out = torch.full((len(rows), 25), 9.0)
    assert d.dense(rows, torch.from_numpy(rows), out=out) is out
    np.testing.assert_array_equal(out.numpy(), matrix[rows].toarray())
    np.testing.assert_array_equal(d.rows(rows).counts.numpy(), np.diff(matrix[rows].indptr))


def test_mask_and_dense_bool_cover_exactly_the_stored_entries(matrix):
    rows = np.array([1, 7, 2])
    e = DeviceRows(matrix, "cpu").rows(rows)
    stored = matrix[rows].toarray() != 0
    scores = torch.zeros(3, 25)
    e.mask_(scores)
    np.testing.assert_array_equal(torch.isinf(scores).numpy(), stored)
    np.testing.assert_array_equal(e.dense_bool().numpy(), stored)


def test_entries_of_a_scipy_matrix_or_of_device_rows_agree(matrix):
    rows = np.array([4, 0, 11])
    a, b = entries(matrix, rows, "cpu"), entries(DeviceRows(matrix, "cpu"), rows, "cpu")
    assert torch.equal(a.dense(), b.dense()) and torch.equal(a.counts, b.counts)


def test_explicit_zeros_still_count_as_stored_entries():
    # a T-DiffRec weight of 0 (w_min 0) is still the user's item: masked, never recommended
    m = sp.csr_matrix((np.array([0.0, 1.0], dtype=np.float32), (np.array([0, 0]), np.array([2, 3]))), shape=(1, 5))
    scores = torch.zeros(1, 5)
    DeviceRows(m, "cpu").rows(np.array([0])).mask_(scores)
    assert torch.isinf(scores[0, [2, 3]]).all() and not torch.isinf(scores[0, [0, 1, 4]]).any()
