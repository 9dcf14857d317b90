"""vlmrobust.core: torch-free robustness math (transforms, lines, effective robustness), results store, theory."""
