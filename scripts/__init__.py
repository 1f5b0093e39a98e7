"""The command-line tools: mnist-train, mnist-evaluate, eval_rendered and the benchmarks."""
