"""benchmarks/gpu_dot_probe.py: the product forms it runs on a GPU are right under the interpreter, and its
check tells them apart (so a wrong form on the device shows as a large error, not as noise)."""
import importlib.util
import os

import pytest
import torch

spec = importlib.util.spec_from_file_location(
    "gpu_dot_probe", os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "gpu_dot_probe.py"))
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)


# On a GPU the probe is a measurement (benchmarks/gpu_dot_probe.py), not a test of our kernels: a wrong form there
# is the finding it looks for.
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the probe under the interpreter; on a GPU run the script")
@pytest.mark.parametrize("n", [32, 64])
@pytest.mark.parametrize("form", probe.FORMS)
def test_every_form_matches_its_reference(form, n):
    assert probe.run_case(form, n, torch.float16, 4, "cpu") < probe.TOL


def test_the_check_tells_the_forms_apart():
    """X is lower triangular, so X @ Y, X^T @ Y and (X + X^T) @ Y differ: scoring one form's output
    against another's reference gives an error far over the tolerance."""
    g = torch.Generator().manual_seed(0)
    A, B = (torch.randn(64, 32, generator=g).to(torch.float16) for _ in range(2))
    Y = torch.randn(64, 32, generator=g).to(torch.float16)
    for got, ref in (("plain", "trans"), ("trans", "sym"), ("moved", "plain")):
        err = probe.relative_error(probe.reference(ref, A, B, Y), probe.reference(got, A, B, Y).float())
        assert err > 10 * probe.TOL
