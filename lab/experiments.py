"""One-click experiments: the settings of each, and the sentence that says what to watch for.

Each key is also the page's fragment (http://127.0.0.1:8001/#zero-init opens that
experiment), which docs/how-it-works.md links to. Two runs in one experiment start side by
side and are drawn overlaid.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    key: str
    title: str
    watch: str
    runs: tuple  # settings objects for POST /api/runs, one per run


EXPERIMENTS = (
    Experiment(
        "zero-init",
        "Start from zero weights",
        "The accuracy stays at chance, about 11 %, and every layer's gradient norm at exactly 0: every "
        "hidden unit computes the same 0, so each gets the same zero gradient and none can become "
        "different. Only the last layer's biases learn: how often each digit occurs.",
        ({"init": "zeros"},),
    ),
    Experiment(
        "lr-10",
        "Learning rate 10",
        "Within a few steps the loss leaps from 2.3 to millions and the NaN guard stops the run, keeping "
        "the last good weights: each step overshoots the minimum further than the one before.",
        ({"lr": 10},),
    ),
    Experiment(
        "sigmoid-x5",
        "Five sigmoid layers against five ReLU layers (SGD)",
        "Choose the sigmoid run: its first layer's gradient norm starts a hundred times below the last "
        "layer's, as each sigmoid multiplies the gradient by its slope (at most 1/4) on the way back. "
        "SGD steps in proportion to the gradient, so the first layers hardly learn and the accuracy "
        "crawls; the ReLU twin learns at once. (Adam rescales each weight's step and hides much of it.)",
        (
            {"hidden": [64, 64, 64, 64, 64], "activation": "sigmoid", "optimizer": "sgd", "lr": 0.1},
            {"hidden": [64, 64, 64, 64, 64], "activation": "relu", "optimizer": "sgd", "lr": 0.1},
        ),
    ),
    Experiment(
        "tiny-batch",
        "Batches of 4 images",
        "The loss curve turns noisy: each step's gradient is estimated from 4 images only. An epoch "
        "takes 2,500 steps instead of 79, and each step pays the same fixed cost in Python.",
        ({"batch_size": 4, "epochs": 1},),
    ),
    Experiment(
        "overfit-500",
        "Overfit 500 images",
        "Training accuracy climbs to 100 % while validation stops near 85 %: with so few images the "
        "network memorises them, noise included, rather than what all 4s share.",
        ({"train_size": 500, "epochs": 100},),
    ),
    Experiment(
        "lr-compare",
        "Learning rate 0.001 against 0.1 (SGD)",
        "Two runs overlaid: with plain SGD (momentum 0.9) a learning rate of 0.001 crawls, its loss "
        "falling slowly, while 0.1 is above 90 % within the first epoch.",
        ({"optimizer": "sgd", "lr": 0.001}, {"optimizer": "sgd", "lr": 0.1}),
    ),
    Experiment(
        "he-vs-zeros",
        "He initialisation against zeros",
        "Two runs overlaid: from He's random weights the loss falls at once; from zeros it stalls at "
        "2.3 (log 10, a uniform guess) and the accuracy never leaves chance.",
        ({"init": "he"}, {"init": "zeros"}),
    ),
)
