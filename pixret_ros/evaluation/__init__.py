"""Offline evaluation: metrics, ground truth, bag and folder readers, runner, report."""
