"""`python -m cs231n_utils.exercises progress [notebooks...]`: the learner's progress table
(what `python3 workbook.py progress` runs)."""
import sys

from .workspace import main

if len(sys.argv) < 2 or sys.argv[1] != "progress":
    sys.exit("usage: python -m cs231n_utils.exercises progress [notebooks...]")
sys.exit(main(sys.argv[2:]))
