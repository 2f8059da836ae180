"""Dimension-generic building blocks (2D and 3D) shared by generators and discriminators.

One idea per module: ``factory`` (conv / norm / pool by ``spatial_dims``), ``activations``,
``validation`` (input checks), ``pixel_shuffle`` (N-D sub-pixel shuffle and inverse),
``upsample`` (x2 / x3 stage split, sub-pixel stage), ``residual``, ``dense``, ``rrdb``, ``cbam``,
``wn_conv`` (weight-normalised zero-mean conv), ``noise_estimate`` (wavelet MAD), ``l2proj``
(L2-ball projection), ``haar`` (Haar DWT), ``memory`` (channels-last), ``inference`` (the
``inference_form`` hook and generic inference rewrites) and ``coarse_grid`` (an output
convolution folded through a pixel shuffle). Import from the module, e.g.
``from medsr.nn.rrdb import RRDB``.
"""
