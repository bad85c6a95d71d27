"""The exercise's own test cells (both editions): same seeds, same calls, the values it prints.

The cells and their published "Expected Output" live in :mod:`cnnstep.app.exercise`, the one
module the learner's checker and ``cnnstep demo --exercise`` read too. Both implementations must
reproduce every published value to the digits printed.
"""

import numpy as np
import pytest

import cnnstep
from cnnstep import reference
from cnnstep.app.exercise import CELLS, run_cell, tolerance

IMPLEMENTATIONS = [pytest.param(cnnstep, id="fast"), pytest.param(reference, id="reference")]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("cell", CELLS, ids=[cell.name for cell in CELLS])
def test_cell_prints_the_published_values(cell, impl):
    namespace = run_cell(cell, impl)
    for expression, published in cell.expected:
        value = eval(expression, namespace)
        if published is None:
            continue
        if isinstance(published, tuple):
            assert value == published, expression
        elif np.asarray(published).dtype == bool:
            np.testing.assert_array_equal(value, published, err_msg=expression)
        else:
            np.testing.assert_allclose(value, published, rtol=0, atol=tolerance(published), err_msg=expression)


def test_every_function_has_a_cell():
    assert {cell.function for cell in CELLS} == set(cnnstep.__all__[:8])


def test_tolerance_is_half_the_last_printed_digit():
    assert tolerance(0.5) == pytest.approx(0.05, rel=1e-5)
    assert tolerance([1.25, -0.001]) == pytest.approx(0.0005, rel=1e-5)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_zero_pad_cell_pads_with_zeros(impl):
    namespace = run_cell(CELLS[1], impl)
    x, x_pad = namespace["x"], namespace["x_pad"]
    np.testing.assert_array_equal(x_pad[1, 1], np.zeros((9, 2)))
    np.testing.assert_array_equal(x_pad[:, 3:6, 3:6, :], x)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_conv_single_step_cell_returns_a_float64_scalar(impl):
    Z = run_cell(CELLS[2], impl)["Z"]
    assert type(Z) is np.float64
    assert isinstance(Z, float)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_conv_backward_cell_shapes(impl):
    namespace = run_cell(next(c for c in CELLS if c.function == "conv_backward"), impl)
    assert namespace["dA"].shape == namespace["A_prev"].shape
    assert namespace["dW"].shape == namespace["W"].shape
    assert namespace["db"].shape == namespace["b"].shape
