"""The model layer: the Method interface, the registry of models (registry.MODELS), the
DiffRec denoiser and Gaussian diffusion with its noise schedule, L-DiffRec and its item
clustering, the baselines, and the AdamW the learners share (no torch.optim: its import costs
seconds of start-up). The models' config keys are declared torch-free in engine.config."""
