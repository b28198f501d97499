"""Training memory budget: the notes' activations + gradients + parameters x (2, 3, 4)."""
import pytest

from cs231n_utils import memory
from cs231n_utils.architectures import summarize


def test_parameter_copies_per_optimizer():
    s = summarize("vgg16")
    for opt, copies in (("sgd", 2), ("momentum", 3), ("adam", 4)):
        m = memory.training_memory("vgg16", 1, opt)
        assert m.parameter_values == copies * s.total_params


def test_activations_scale_with_the_batch_and_exclude_the_input():
    s = summarize("vgg16")
    per_image = s.total_activations - 3 * 224 * 224
    m = memory.training_memory(s, 8, "momentum")
    assert m.activations == m.activation_grads == 8 * per_image
    assert m.data == 8 * 3 * 224 * 224
    assert m.total_bytes == 4 * m.total_values
    assert sum(m.parts().values()) == m.total_bytes
    assert memory.training_memory("vgg16", 8, bytes_per_value=2).total_bytes == m.total_values * 2


def test_max_batch_size_is_the_largest_that_fits():
    budget = 12 * memory.GiB
    b = memory.max_batch_size("resnet50", budget, "adam")
    assert memory.training_memory("resnet50", b, "adam").total_bytes <= budget
    assert memory.training_memory("resnet50", b + 1, "adam").total_bytes > budget
    assert memory.max_batch_size("vgg16", 1000, "adam") == 0       # parameters alone do not fit


def test_errors_and_rendering():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        memory.training_memory("vgg16", 1, "lbfgs")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        memory.training_memory("vgg16", 0)
    with pytest.raises(ValueError, match="budget_bytes must be > 0"):
        memory.max_batch_size("vgg16", 0)
    m = memory.training_memory("alexnet", 4, "sgd")
    assert "optimizer state (sgd)" in m.to_text() and "GiB" in m._repr_html_()
    assert repr(m).startswith("MemoryBudget('alexnet', batch 4, sgd:")
