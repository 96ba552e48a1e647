"""Inspecting a finished run: the Inspector (a user's history, denoised scores, reverse-diffusion
trajectory, top-K with hits, what-if edits, per-user metrics, recommendation export) and the
plain views it returns."""
