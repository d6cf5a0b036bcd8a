"""The residual oracle's screen in JAX (``brute_force_knn(..., backend="jax")``): the float64 bulk of
every pair — kernel values and V_Q V_X^T — on JAX's device (a GPU when present), with an error bound,
so that the oracle's exact host re-check of every pair the bound cannot settle gives the same answers
as the NumPy screen.  It reuses the JAX engine's jitted block (``queries.jax_dense``)."""

from __future__ import annotations

import numpy as np

from covertreex.kernels._approx_numba import KERNEL_ABS_ERR, KERNEL_REL_ERR
from covertreex.metrics.residual_dense import screen_from_gap, split_rows
from covertreex.queries.jax_dense import _jax, _screen_program

# XLA's exp, square root and summation order are other roundings than the NumPy screen's: its bound is
# doubled, and the kernel term counts XLA's exp within KERNEL_REL_ERR of the scalar kernel
MARGIN = 2.0


def screen_block_jax(metric, Fq: np.ndarray, Fx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Approximate 1 - |rho| (len(Fq), len(Fx)) computed by JAX, and an upper bound on each entry's
    error (``metric``: the residual metric's ``MetricSlots``), like ``residual_dense.screen_block``."""
    jnp = _jax().numpy
    variance, dim = metric.variance, metric.dim
    xq, pq, Vq = split_rows(Fq, dim)
    xx, px, Vx = split_rows(Fx, dim)
    program = _screen_program(int(metric.kernel))
    a = np.asarray(program(jnp.asarray(np.ascontiguousarray(xq)), jnp.asarray(np.ascontiguousarray(Vq)),
                           jnp.asarray(np.ascontiguousarray(xx)), jnp.asarray(np.ascontiguousarray(Vx)),
                           float(variance)))
    # |k| <= variance for these kernels: the dot's gamma_m bound with |K| replaced by the variance
    approx, err, scale = screen_from_gap(a, variance, pq, px, Vq, Vx, metric.m)
    return approx, MARGIN * (err + (KERNEL_REL_ERR + KERNEL_ABS_ERR) * variance / scale)
