"""The denoiser's products through numpy's BLAS give torch's results, where they apply."""
import math

import numpy as np
import pytest
import torch

from engine.models import cpu_blas
from engine.models.denoiser import Denoiser
from engine.models.threads import kernel_threads, single_threaded_kernels
from engine.training import evaluation

pytestmark = pytest.mark.skipif(cpu_blas._blas_lib() is None, reason="threadpoolctl sees no BLAS under numpy")


@pytest.fixture
def blas(monkeypatch):
    """set(mode): DIFFREC_CPU_BLAS=mode for what follows."""
    def set_mode(mode: str) -> None:
        monkeypatch.setenv("DIFFREC_CPU_BLAS", mode)
        cpu_blas.use_numpy.cache_clear()
    yield set_mode
    cpu_blas.use_numpy.cache_clear()


def _model(seed=0):
    torch.manual_seed(seed)
    return Denoiser(50, [16, 8], emb_size=6).eval()


def test_numpy_products_apply_only_where_kernels_run_on_one_thread(blas):
    x = torch.zeros(3, 4)
    blas("numpy")
    with kernel_threads(2):
        assert not cpu_blas.applies(x)
    with single_threaded_kernels():
        assert cpu_blas.applies(x)
        assert not cpu_blas.applies(x.double())
    blas("torch")
    with single_threaded_kernels():
        assert not cpu_blas.applies(x)


def test_a_denoising_step_is_the_same_through_either_blas(blas):
    model = _model()
    x = torch.rand(7, 50)
    out = {}
    for mode in ("torch", "numpy"):
        blas(mode)
        with single_threaded_kernels():
            buf = torch.empty(7, 50)
            out[mode] = [model.at_step(x, s).clone() for s in range(3)] + [model.at_step(x, 1, out=buf)]
            assert out[mode][-1] is buf
    for a, b in zip(out["torch"], out["numpy"]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_training_gradients_are_the_same_through_either_blas(blas):
    x, t = torch.rand(9, 50), torch.randint(0, 5, (9,))
    grads, losses = {}, {}
    for mode in ("torch", "numpy"):
        blas(mode)
        model = _model(seed=3).train()
        model.drop.p = 0.0  # the same forward both times
        with single_threaded_kernels():
            loss = ((model(x, t) - x) ** 2).mean()
            loss.backward()
        losses[mode] = loss.item()
        grads[mode] = [p.grad.clone() for p in model.parameters()]
    assert losses["torch"] == pytest.approx(losses["numpy"], rel=1e-6)
    for a, b in zip(grads["torch"], grads["numpy"]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_numpy_blas_follows_the_kernel_threads(blas):
    blas("numpy")
    lib = cpu_blas._blas_lib()
    before = lib.num_threads
    with single_threaded_kernels():
        assert lib.num_threads == 1
    assert lib.num_threads == before


@pytest.mark.parametrize("n_users", [5949, 1000, 257])
def test_auto_cpu_eval_batches_are_even_and_a_multiple_of_the_threads(n_users):
    cfg = {"eval_batch_size": 0}
    with kernel_threads(2):
        step = evaluation.eval_batch_size(cfg, 2810, "cpu", n_users)
        base = evaluation.eval_batch_size(cfg, 2810, "cpu")
    batches = math.ceil(n_users / step)
    assert step <= max(base, n_users)
    if n_users > base:
        assert batches % 2 == 0 and batches >= math.ceil(n_users / base)
        sizes = np.diff(list(range(0, n_users, step)) + [n_users])
        assert sizes.max() - sizes.min() <= batches  # no short last batch for one thread alone
    else:
        assert step == base
