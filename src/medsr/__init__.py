"""medsr: GAN-based medical image enhancement (MRI super-resolution, low-dose CT denoising).

Importing ``medsr`` is cheap: sub-packages (torch models, I/O, metrics) are imported on use.
"""

from medsr._version import __version__

__all__ = ["__version__"]
