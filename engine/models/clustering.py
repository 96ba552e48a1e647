"""Item clustering for L-DiffRec: item embeddings and a deterministic k-means.

Embeddings come from a `.npy` file (the ml-1m folders ship the authors' LightGCN
`item_emb.npy`) or, when there is none, from the training matrix: a rank-64 truncated SVD
of the item x user matrix (randomized, seeded), each item represented by the direction of
its row of U_k * S_k (L2-normalized). Items that share users point the same way, which is
what the per-cluster encoders want. Without the normalization the vector lengths follow
popularity and k-means splits off the few most popular items instead (on Amazon-book-sized
synthetic data: clusters of 94,948 and 1 items).

k-means is Lloyd's algorithm from a k-means++ start, in float64, seeded, so the same
embeddings and seed give the same clusters. Every cluster is non-empty (points are moved
into empty clusters), and clusters are numbered by their smallest item id.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from engine.data.loaders import load_npy
from engine.errors import ConfigError
from engine.models.threads import single_threaded_kernels

SVD_DIM = 64  # the size of the authors' LightGCN embeddings
SVD_OVERSAMPLE = 10
SVD_POWER_ITERS = 2  # enough for clustering; each costs two QRs of an n x 74 matrix
KMEANS_MAX_ITERS = 100
DIST_BLOCK = 1 << 22  # distances computed in row blocks of at most this many entries


# ---------------------------------------------------------------- embeddings

def svd_embeddings(train: sp.spmatrix, dim: int = SVD_DIM, seed: int = 0) -> np.ndarray:
    """Items' rows of a rank-`dim` randomized SVD of the item x user matrix (Halko et al.),
    U_k * S_k with each row scaled to unit length (items without users stay 0); shape
    (n_items, k) with k = min(dim, n_items, n_users)."""
    a = sp.csr_matrix(train.T, dtype=np.float64)  # items x users
    n_items, n_users = a.shape
    k = max(1, min(dim, n_items, n_users))
    width = min(k + SVD_OVERSAMPLE, n_items, n_users)
    rng = np.random.default_rng(seed)
    q = _orth(a @ rng.standard_normal((n_users, width)))
    for _ in range(SVD_POWER_ITERS):  # power iterations sharpen the leading subspace
        q = _orth(a @ _orth(a.T @ q))
    b = np.ascontiguousarray((a.T @ q).T)  # q^T a, small: width x n_users
    # The left singular vectors of b from the eigenvectors of b b^T (width x width): much
    # cheaper than an SVD of the wide b, and precise enough for clustering.
    with _one_thread():
        evals, evecs = torch.linalg.eigh(torch.from_numpy(_mm(b, b.T)))
    top = torch.argsort(evals, descending=True)[:k]
    s = evals[top].clamp(min=0).sqrt().numpy()
    emb = _mm(q, evecs[:, top].numpy()) * s
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    return np.ascontiguousarray(emb / np.where(norm > 0, norm, 1.0))


# Dense algebra here is small (n x 74 at most); on a busy machine multi-threaded LAPACK was
# 20-100x slower than one thread, so run it in torch on one thread.
_one_thread = single_threaded_kernels


def _orth(y: np.ndarray) -> np.ndarray:
    with _one_thread():
        return np.ascontiguousarray(torch.linalg.qr(torch.from_numpy(y))[0].numpy())


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with _one_thread():
        return (torch.from_numpy(np.ascontiguousarray(a)) @ torch.from_numpy(np.ascontiguousarray(b))).numpy()


def load_embeddings(path: str | Path, n_items: int) -> np.ndarray:
    """A (n_items, d) float array from a .npy file; ConfigError naming `item_emb` otherwise."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config: item_emb {p}: file not found; give a .npy of shape ({n_items}, d), "
                          "or item_emb=auto / svd")
    emb = load_npy(p, "config: item_emb ", ConfigError)
    check_embeddings(emb, n_items, str(p))
    return emb


def check_embeddings(emb: np.ndarray, n_items: int, where: str) -> None:
    if emb.ndim != 2 or emb.shape[0] != n_items or emb.shape[1] < 1:
        raise ConfigError(f"config: item_emb {where}: expected shape ({n_items}, d), got {emb.shape}; "
                          "or use item_emb=svd")
    if not np.issubdtype(emb.dtype, np.number) or not np.all(np.isfinite(emb)):
        raise ConfigError(f"config: item_emb {where}: values must be finite numbers; or use item_emb=svd")


def item_embeddings(source: str, dataset, train: sp.spmatrix, seed: int) -> tuple[np.ndarray, str]:
    """The embeddings the config asks for and a short name of their origin.
    auto: the dataset's item_emb.npy when it has one, else SVD; svd: always SVD; else a path."""
    if source == "auto" and dataset.item_emb is not None:
        check_embeddings(dataset.item_emb, dataset.n_items, "item_emb.npy")
        return dataset.item_emb, "item_emb.npy"
    if source in ("auto", "svd"):
        return svd_embeddings(train, SVD_DIM, seed), f"svd{SVD_DIM}"
    return load_embeddings(source, dataset.n_items), Path(source).name


# ---------------------------------------------------------------- k-means

def kmeans(x: np.ndarray, k: int, seed: int = 0, max_iters: int = KMEANS_MAX_ITERS) -> np.ndarray:
    """Cluster label (0..k-1) of each row of `x`. Deterministic for a seed; no cluster is
    empty; cluster c's smallest row index is smaller than cluster c+1's."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    centers = _plus_plus(x, k, rng)
    labels = np.full(n, -1, dtype=np.int64)
    x_sq = (x * x).sum(1)
    for _ in range(max_iters):
        new, dist = _assign(x, x_sq, centers)
        new = _fill_empty(new, dist, k)
        if np.array_equal(new, labels):
            break
        labels = new
        centers = _means(x, labels, k)
    return _canonical(labels, k)


def _sq_dist(x: np.ndarray, centers: np.ndarray, x_sq: np.ndarray | None = None) -> np.ndarray:
    x_sq = (x * x).sum(1) if x_sq is None else x_sq
    d = x_sq[:, None] - 2.0 * _mm(x, centers.T) + (centers * centers).sum(1)[None, :]
    return np.maximum(d, 0.0)


def _assign(x: np.ndarray, x_sq: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest center of each row and the squared distance to it, in row blocks."""
    step = max(1, DIST_BLOCK // len(centers))
    labels = np.empty(len(x), dtype=np.int64)
    dist = np.empty(len(x))
    for lo in range(0, len(x), step):
        d = _sq_dist(x[lo:lo + step], centers, x_sq[lo:lo + step])
        labels[lo:lo + step] = d.argmin(1)
        dist[lo:lo + step] = d[np.arange(len(d)), labels[lo:lo + step]]
    return labels, dist


def _plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: each next center drawn with probability ~ squared distance."""
    idx = [int(rng.integers(len(x)))]
    closest = _sq_dist(x, x[idx]).ravel()
    for _ in range(1, k):
        total = closest.sum()
        nxt = int(rng.choice(len(x), p=closest / total)) if total > 0 else int(rng.integers(len(x)))
        idx.append(nxt)
        closest = np.minimum(closest, _sq_dist(x, x[[nxt]]).ravel())
    return x[idx].copy()


def _means(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    with _one_thread():
        sums = torch.zeros(k, x.shape[1], dtype=torch.float64).index_add_(
            0, torch.from_numpy(labels), torch.from_numpy(x)).numpy()
    return sums / np.bincount(labels, minlength=k)[:, None]


def _fill_empty(labels: np.ndarray, dist: np.ndarray, k: int) -> np.ndarray:
    """Give each empty cluster the point farthest from its center, taken from a cluster that
    keeps at least one point (ties broken by index, so the result stays deterministic)."""
    counts = np.bincount(labels, minlength=k)
    if counts.min() > 0:
        return labels
    labels = labels.copy()
    order = np.lexsort((np.arange(len(labels)), -dist))  # farthest first
    pos = 0
    for c in np.flatnonzero(counts == 0):
        while counts[labels[order[pos]]] <= 1:
            pos += 1
        i = order[pos]
        counts[labels[i]] -= 1
        labels[i] = c
        counts[c] = 1
        pos += 1
    return labels


def _canonical(labels: np.ndarray, k: int) -> np.ndarray:
    """Renumber clusters by their first (smallest) member, so labels do not depend on the
    order the centers were drawn in."""
    first = np.full(k, len(labels))
    np.minimum.at(first, labels, np.arange(len(labels)))
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(k)
    return rank[labels]


def cluster_order(labels: np.ndarray, k: int) -> tuple[np.ndarray, list[int]]:
    """Item ids grouped by cluster (ascending ids within a cluster) and the cluster sizes."""
    order = np.argsort(labels, kind="stable").astype(np.int64)
    return order, np.bincount(labels, minlength=k).astype(int).tolist()
