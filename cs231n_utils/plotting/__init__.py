"""Figures used by the notebooks, one module per topic, all in one style.

Each plotting function draws with matplotlib and also returns the data it drew, so the
tests can check what a picture shows without looking at pixels.

    from cs231n_utils.plotting import history, conv, conv_demo, pooling, normalization,
        training, architectures, transfer

`style` sets the one figure style every module uses (100 dpi, at least 500 px wide, no text
under 9 pt, grey for images, one diverging colour map with a colorbar for signed values):
a plotting function starts with `style.apply()` or creates its figure with
`style.figure(...)`; a notebook calls `style.apply()` once in its set-up cell.
`style.figure_problems(fig)` lists what a drawn figure does wrong (for tests).
"""
