"""scripts/bench_explain.py runs and times what /predict does, with and without the explanation."""

import json

import numpy as np

from mnist_mlp.data.imaging.preprocess import preprocess
from mnist_mlp.model import DEFAULT_WEIGHTS, Classifier
from mnist_mlp.scripts import bench_explain
from mnist_mlp.scripts.bench_service import PAGE_SAMPLE


def test_the_explained_job_is_the_answer_with_its_explanation():
    clf = Classifier(DEFAULT_WEIGHTS)
    x = preprocess(PAGE_SAMPLE.read_bytes())[None, :]
    plain = json.loads(bench_explain.plain(clf, x))
    explained = json.loads(bench_explain.explained(clf, x))
    why = explained[0].pop("explanation")
    assert explained == plain
    assert len(why["gradient"]) == 784 and why["heatmap"].startswith("data:image/png;base64,")


def test_alternating_medians_time_each_job():
    medians = bench_explain.alternating_medians_ms(5, lambda: None, lambda: np.ones(200_000).sum())
    assert medians.shape == (2,) and 0 <= medians[0] < medians[1]


def test_the_benchmark_prints_the_extra_cost_per_image(mnist_dir, capsys):
    bench_explain.main(["--rounds", "3", "--data-dir", str(mnist_dir)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["mnist28", "page", "batch of 16 prepared inputs"]
    assert all("extra" in line and ("PASS" in line or "MISS" in line) for line in lines)
