"""Covariance kernels for the residual-correlation metric."""

from covertreex.kernels.stationary import KERNELS, RBF, Matern12, Matern32, Matern52, StationaryKernel, kernel_by_name

__all__ = ["KERNELS", "RBF", "Matern12", "Matern32", "Matern52", "StationaryKernel", "kernel_by_name"]
