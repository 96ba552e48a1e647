"""The denoiser's matrix products on the CPU through numpy's BLAS where torch's is the
slower one.

torch's CPU wheels multiply with MKL, which off Intel CPUs takes a slower path at some
shapes: on the 2-core AMD EPYC these benchmarks run on, one core's sgemm reaches 50-65
GFLOPS at the denoiser's output layer (users x 600 @ 600 x 2810) where numpy's OpenBLAS
reaches 88-93, both about 90 at the other layers, and with both cores MKL loses more when
another program takes a core for a while (benchmarks/limits.py prints both libraries'
rates). The products run on the tensors' own memory, only where kernels run on one
thread (see `applies`); autograd sees one Function per layer. The choice is fixed per
process, never timed, so a run's numbers do not depend on a race; DIFFREC_CPU_BLAS=
torch|numpy overrides it (benchmarks compare the two).
"""
from __future__ import annotations

import contextlib
import functools
import os
import platform

import numpy as np
import torch


@functools.cache
def _controller():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


@functools.cache
def _blas_lib():
    """threadpoolctl's handle on numpy's BLAS, or None."""
    try:
        libs = _controller().select(user_api="blas").lib_controllers
    except Exception:  # threadpoolctl missing or unable to read the libraries
        return None
    return libs[0] if libs else None


def numpy_blas() -> str:
    """The BLAS numpy multiplies with ('openblas', 'mkl', ...; '' if unknown)."""
    lib = _blas_lib()
    return lib.internal_api if lib is not None else ""


def _intel_cpu() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return "GenuineIntel" in f.read(4096)
    except OSError:
        return "intel" in platform.processor().lower()


@functools.cache
def use_numpy() -> bool:
    """Is numpy's BLAS the one to multiply with (where `applies`)? As DIFFREC_CPU_BLAS says;
    else where it is OpenBLAS (its thread count can be set) and the CPU is not Intel's."""
    forced = os.environ.get("DIFFREC_CPU_BLAS", "").strip().lower()
    if forced in ("torch", "numpy"):
        return forced == "numpy" and _blas_lib() is not None
    return numpy_blas() == "openblas" and not _intel_cpu()


def set_threads(n: int) -> None:
    """numpy's BLAS on `n` threads from now on, as torch.set_num_threads(n) for torch's."""
    if use_numpy():
        _controller().limit(limits=n, user_api="blas")


@contextlib.contextmanager
def blas_threads(n: int):
    """numpy's BLAS on `n` threads for a block (torch's are set with torch.set_num_threads)."""
    if not use_numpy():
        yield
        return
    with _controller().limit(limits=n, user_api="blas"):
        yield


def mm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """a @ b on numpy's BLAS (transposed views are read in place), into `out` when given."""
    if out is None:
        out = torch.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    with np.errstate(all="ignore"):  # inf/NaN pass through silently, as in torch (the trainer reports them)
        np.matmul(a.detach().numpy(), b.detach().numpy(), out=out.numpy())
    return out


def linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """h @ weight^T + bias without autograd, written into `out` when given."""
    return mm(h, weight.t(), out).add_(bias.detach())  # torch's broadcast add: twice numpy's speed here


class Linear(torch.autograd.Function):
    """h @ weight^T + bias, forward and backward on numpy's BLAS: Linear.apply(h, w, b)."""

    @staticmethod
    def forward(ctx, h, weight, bias):
        ctx.save_for_backward(h, weight)
        return linear(h, weight, bias)

    @staticmethod
    def backward(ctx, g):
        h, weight = ctx.saved_tensors
        g = g.contiguous()
        gh = mm(g, weight) if ctx.needs_input_grad[0] else None
        return gh, mm(g.t(), h), g.sum(0)


def applies(x: torch.Tensor) -> bool:
    """Do x's products go through numpy here? On CPU float32 data, with numpy's BLAS
    chosen, and only where kernels run on one thread (torch's and numpy's alike: evaluation
    batches side by side, a sweep's one-thread trials): with several, the two libraries'
    thread pools would fight over the cores (an epoch here is 1.3x slower so)."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and use_numpy()
            and torch.get_num_threads() == 1 and _blas_lib().num_threads == 1)
