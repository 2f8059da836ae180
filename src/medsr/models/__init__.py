"""Models: generators, discriminators and feature extractors, each behind a registry.

Importing ``medsr.models`` does not import the architectures; import the registry you need,
e.g. ``from medsr.models.generators import GENERATORS``. Model-independent measurements
(parameter count, FLOPs per output voxel, receptive field) live in :mod:`medsr.models.analysis`.
"""
