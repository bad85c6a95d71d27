"""The kernels' room: validation, shape rules and the fast kernels behind the eight functions.

Private: the public functions in :mod:`cnnstep.conv` and :mod:`cnnstep.pool` validate
their input here first (:mod:`.checks`), then hand arrays already cast to the working
dtype to a kernel. Nothing here imports anything above it (the blocks, ``nn``, the app).

One vocabulary, in every kernel:

=============  ==============================================================
``x``          a kernel's input (``A_prev`` in the exercise)
``y``          its output (``Z`` for a convolution, ``A`` for pooling)
``dy``         the upstream gradient, shaped like ``y`` (``dZ`` or ``dA``)
``dx``         the input gradient, shaped like ``x`` (``dA_prev``)
``w``, ``dw``  the filters ``W (f_h, f_w, n_C_prev, n_C)`` and their gradient
``g``          the validated geometry (:class:`.checks.ConvGeometry` / ``PoolGeometry``)
``out``        only ever an output *array* a kernel fills
``out_dtype``  the dtype results are returned in; ``work_dtype`` the one computed in
=============  ==============================================================

The convolution kernels keep the exercise's letters where they follow its formulas
(``A_pad``, ``dZ``, ``W``): ``dZ`` is always the upstream gradient there, never another.

Modules: :mod:`.checks` (validation, padding forms, shape rules), :mod:`.frame` (padding
frames), :mod:`.im2col` (window-matrix products), :mod:`.winograd` (F(2x2, 3x3)),
:mod:`.band` (banded products for few input channels), :mod:`.pooling` (max and average,
both directions), :mod:`.config` (workspace limit, chunk sizes), :mod:`.parallel`
(chunks over threads), :mod:`.blas` (holding OpenBLAS to one thread meanwhile).
"""
