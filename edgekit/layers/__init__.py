"""Shared blocks and the re-parameterization protocol (:mod:`edgekit.layers.reparam`).

Importing this package imports torch; the model registry imports it lazily.
"""

from __future__ import annotations

from edgekit.layers.reparam import (
    ConvBN,
    DeployError,
    Reparameterizable,
    deploy_error,
    fuse_bn_conv,
    fuse_conv_bn,
    pad_kernel_to,
    randomize_batchnorm,
    reparam_error,
    reparameterize,
)

__all__ = [
    "ConvBN", "DeployError", "Reparameterizable", "deploy_error", "fuse_bn_conv", "fuse_conv_bn",
    "pad_kernel_to", "randomize_batchnorm", "reparam_error", "reparameterize",
]
