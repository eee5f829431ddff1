"""Training toolkit (the ``faceprint[train]`` extra): every loss of deep face recognition on one
template, Partial FC, Dynamic Weight Imprinting, Joint Bayesian scoring, small backbones, a
resumable training loop and the "adaptation run" on frozen embeddings.

Nothing is imported here: ``torch`` is only needed by the submodules that use it
(:mod:`faceprint.train.joint_bayesian` is numpy-only).
"""
