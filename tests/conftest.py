"""Shared test set-up: a non-interactive matplotlib backend and seeded generators."""
import os

# Notebook kernels started by nbval inherit this process's environment: a MPLBACKEND=Agg
# here would make `plt.show()` in the notebooks store no figure. So select Agg for the unit
# tests in-process only, and keep the variable out of the environment.
os.environ.pop("MPLBACKEND", None)

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(231)
