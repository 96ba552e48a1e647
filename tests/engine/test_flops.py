"""engine.training.flops: the matrix products of each phase, counted from the layer sizes."""
from __future__ import annotations

import numpy as np
import torch

from engine.models import registry as methods
from engine.data import loaders as data
from engine.training import flops
from engine.config import schema as config


def build(**raw):
    cfg = config.resolve({"synthetic_users": 50, "synthetic_items": 40, "device": "cpu", **raw})
    ds = data.load(cfg)
    return methods.build(cfg, ds, torch.device("cpu")), ds


def test_diffrec_at_the_papers_sizes():
    # ml-1m_clean's 2,810 items, dims [200, 600], emb 10: 3.618 M multiply-adds per user per pass
    m, _ = build(dims_dnn=[200, 600], embedding_size=10, steps=40)
    m.module = type(m.module)(2810, [200, 600], 10)
    g = flops.phase_gemms(m, 5949, 400, 5949)
    per_user_pass = 2820 * 600 + 600 * 200 + 200 * 600 + 600 * 2810
    # evaluation, folded (Denoiser.reverse): x0 in and scores out once, 600 -> 200 -> 600 per step and
    # 600 -> 600 in all but the first (its input is zero), the fold 600 x 2810 x 600 once: 0.33 TFLOP
    folded = 2810 * 600 + 39 * 600 * 600 + 40 * (600 * 200 + 200 * 600) + 600 * 2810
    assert flops.total_flops(g["eval"]) == 2 * 5949 * folded + 2 * 600 * 2810 * 600
    m.cfg = {**m.cfg, "sampling_noise": True, "noise_scale": 0.005}  # a model pass per step, as the paper counts
    assert flops.total_flops(flops.phase_gemms(m, 5949, 400, 5949)["eval"]) == 2 * 40 * 5949 * per_user_pass  # 1.72 TFLOP
    # training: forward + weight gradients + input gradients of all but the data layer
    assert flops.total_flops(g["train"]) == 2 * 5949 * (3 * per_user_pass - 2820 * 600)
    assert sum(g["train"].values()) == 15 * 11  # 15 batches (14 of 400, one of 349), 11 products each


def test_batches_cover_the_users():
    assert flops.batch_sizes(5949, 400) == {400: 14, 349: 1}
    assert flops.batch_sizes(800, 400) == {400: 2}


def test_ldiffrec_counts_encoders_denoiser_steps_and_decoder():
    m, ds = build(model="LDiffRec", n_cate=2, in_dims=[20], out_dims=[], dims_dnn=[16], steps=5, item_emb="svd")
    ae = m.module.autoencoder
    enc = sum(2 * n * d for n, d in zip(ae.cluster_sizes, ae.latent_dims))  # each cluster -> mean and log-variance
    latent = sum(ae.latent_dims)
    den = (latent + 10) * 16 + 16 * latent
    dec = latent * ds.n_items
    g = flops.phase_gemms(m, 10, 10, 10)
    folded = latent * 16 + 4 * 16 * 16 + 16 * latent  # Denoiser.reverse, and its fold (16 x latent x 16) once
    assert flops.total_flops(g["eval"]) == 2 * 10 * (enc + folded + dec) + 2 * 16 * latent * 16
    # training: the denoiser's and decoder's inputs carry gradients, the encoders' data input none
    assert flops.total_flops(g["train"]) == 2 * 10 * (2 * enc + 3 * den + 3 * dec)


def test_multivae_and_closed_form_models():
    m, ds = build(model="MultiVAE", mlp_hidden_size=[30], latent_dimension=8)
    g = flops.phase_gemms(m, 10, 10, 10)
    per_user = ds.n_items * 30 + 30 * 8 + 4 * 30 + 30 * ds.n_items
    assert flops.total_flops(g["eval"]) == 2 * 10 * per_user
    assert flops.total_flops(g["train"]) == 2 * 10 * (3 * per_user - ds.n_items * 30)
    assert flops.phase_gemms(build(model="Pop")[0], 10, 10, 10) is None
    assert np.isfinite(flops.Gemm(3, 4, 5).flops) and flops.Gemm(3, 4, 5).flops == 120
