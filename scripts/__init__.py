"""The command-line tools: mnist-train, mnist-evaluate, mnist-predict, mnist-export, mnist-feedback
and eval_rendered."""
