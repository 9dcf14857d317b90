"""vlmrobust.eval: evaluators, metrics, RobustnessCallback, plots and the eval/line/theory commands."""
