"""How `dims_dnn` becomes the denoiser's layer sizes (torch-free: the config's note line
and the docs name the network before anything is built).

mirrored (the DiffRec authors' code): dims_dnn lists the hidden sizes from the bottleneck
outwards and the encoder mirrors the decoder, so [200, 600] on n items is
n -> 600 -> 200 -> 600 -> n. recbole (RecBole 1.2.1's DiffRec and LDiffRec): the layers are
`[n] + dims_dnn + [n]` as written, so [200, 600] is n -> 200 -> 600 -> n. One hidden size
gives the same network either way.
"""
from __future__ import annotations

LAYOUTS = ("mirrored", "recbole")


def layer_sizes(n, dims: list[int], layout: str = "mirrored") -> list:
    """Widths from the input to the output, both `n` (the step embedding comes on top of
    the input)."""
    if layout not in LAYOUTS:
        raise ValueError(f"dims_dnn_layout `{layout}` must be one of {', '.join(LAYOUTS)}")
    dims = list(dims)
    hidden = dims[::-1] + dims[1:] if layout == "mirrored" else dims
    return [n] + hidden + [n]


def sizes_text(dims: list[int], layout: str, n: str = "n") -> str:
    """'n -> 600 -> 200 -> 600 -> n'."""
    return " -> ".join(str(w) for w in layer_sizes(n, dims, layout))
