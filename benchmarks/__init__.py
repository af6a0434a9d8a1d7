"""Speed and memory, measured side by side with a vanilla LlamaIndex pipeline in one run.

Run `python -m benchmarks` (full) or `python -m benchmarks --quick` (the CI smoke run)."""
