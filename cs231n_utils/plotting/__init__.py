"""Figures used by the notebooks, one module per topic.

Each plotting function draws with matplotlib and also returns the data it drew, so the
tests can check what a picture shows without looking at pixels.

    from cs231n_utils.plotting import history, conv, pooling, normalization, training,
        architectures, transfer
"""
