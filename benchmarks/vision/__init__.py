"""The vision benchmark: run.py (the experiment), models, objectives, training and its report."""
