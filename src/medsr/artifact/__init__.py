"""The trained-model artifact, below both ``train/`` and ``infer/``: the checkpoint format and its
safe loading (:mod:`medsr.artifact.checkpoint`), the model spec that inference reads from it
(:mod:`medsr.artifact.spec`) and the bundled-model index (:mod:`medsr.artifact.zoo`).

Training writes artifacts, inference and export read them; neither imports the other for it.
Submodules are imported on use, so importing this package is cheap.
"""
