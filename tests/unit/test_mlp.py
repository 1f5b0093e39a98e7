import numpy as np
import pytest

from mnist_mlp.model import MLP
from mnist_mlp.model.losses import cross_entropy, softmax_cross_entropy_
from mnist_mlp.model.optim import Adam
from tests.gradients import numeric_gradient


def loss_and_grads(model, x, labels):
    """Mean cross-entropy of a batch and its gradient, left in `model.grads`: one training step's work."""
    logits = model.forward(x, keep=True)
    loss, dlogits = softmax_cross_entropy_(logits, labels)
    model.backward(dlogits)
    return loss


def test_default_architecture_is_float32_he_initialised():
    model = MLP(seed=0)
    assert model.layer_sizes == (784, 128, 64, 10)
    assert [w.shape for w in model.weights] == [(784, 128), (128, 64), (64, 10)]
    assert model.params.dtype == np.float32 and model.params.size == 784 * 128 + 128 * 64 + 64 * 10 + 202
    # He: std sqrt(2 / fan_in); 100k samples pin the first layer's std to within ~1 %
    assert model.weights[0].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert not any(b.any() for b in model.biases)
    logits = model.forward(np.random.default_rng(0).random((3, 784), dtype=np.float32))
    assert logits.dtype == np.float32 and logits.shape == (3, 10)


def test_views_share_the_flat_parameter_vector():
    model = MLP((4, 3, 2), seed=0)
    model.params[:] = np.arange(model.params.size)
    np.testing.assert_array_equal(model.weights[0], np.arange(12).reshape(4, 3))
    np.testing.assert_array_equal(model.biases[1], [12 + 6 + 3, 12 + 6 + 4])


def test_same_seed_same_weights_other_seed_other_weights():
    assert np.array_equal(MLP(seed=3).params, MLP(seed=3).params)
    assert not np.array_equal(MLP(seed=3).params, MLP(seed=4).params)


@pytest.mark.parametrize(
    ("sizes", "activation"),
    [
        ((12, 9, 7, 10), "relu"),
        ((5, 4), "relu"),
        ((12, 9, 7, 10), "sigmoid"),
        ((12, 6, 6, 6, 6, 6, 10), "sigmoid"),  # five sigmoid layers: gradients fading on the way back
    ],
)
def test_every_gradient_matches_central_differences_in_float64(sizes, activation):
    rng = np.random.default_rng(0)
    model = MLP(sizes, seed=1, dtype=np.float64, activation=activation)
    for b in model.biases:  # non-zero biases, so their gradients are exercised off the origin
        b[...] = rng.normal(scale=0.1, size=b.shape)
    x = rng.normal(size=(6, sizes[0]))
    y = rng.integers(0, sizes[-1], size=6)
    loss_and_grads(model, x, y)
    analytic = model.grads.copy()
    # ReLU has kinks, which a small step seldom crosses; the smooth sigmoid takes a larger one, as
    # its deep layers' gradients (1e-6) would otherwise drown in the loss's rounding (1e-10 / step)
    numeric = numeric_gradient(model, x, y, eps=1e-6 if activation == "relu" else 1e-4)
    relative = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-8)
    assert relative.max() < 1e-6, f"worst relative error {relative.max():.2e} at {relative.argmax()}"


def test_gradients_of_the_default_architecture_on_a_sample_of_parameters():
    rng = np.random.default_rng(0)
    model = MLP(seed=0, dtype=np.float64)
    x = rng.random((4, 784))
    y = np.array([0, 3, 7, 9])
    loss_and_grads(model, x, y)
    eps = 1e-6
    for layer in range(model.n_layers):
        for param, grad in (
            (model.weights[layer], model.grad_weights[layer]),
            (model.biases[layer], model.grad_biases[layer]),
        ):
            flat_param, flat_grad = param.reshape(-1), grad.reshape(-1)
            # the largest gradients plus random ones: the large ones are where mistakes show
            picks = np.unique(
                np.concatenate([np.argsort(-np.abs(flat_grad))[:10], rng.integers(0, flat_param.size, 10)])
            )
            for i in picks:
                saved = flat_param[i]
                flat_param[i] = saved + eps
                up = cross_entropy(model.forward(x), y)
                flat_param[i] = saved - eps
                down = cross_entropy(model.forward(x), y)
                flat_param[i] = saved
                numeric = (up - down) / (2 * eps)
                denominator = max(abs(numeric) + abs(flat_grad[i]), 1e-8)
                assert abs(numeric - flat_grad[i]) / denominator < 1e-6


def test_overfits_a_tiny_batch_to_full_accuracy():
    rng = np.random.default_rng(0)
    x = rng.random((32, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=32)
    model = MLP(seed=0)
    optimizer = Adam(model, lr=1e-2)
    for _ in range(200):
        loss_and_grads(model, x, y)
        optimizer.step()
    assert (model.predict(x) == y).all()
    assert cross_entropy(model.forward(x), y) < 0.01


def test_backward_without_forward_is_refused():
    model = MLP((4, 2))
    with pytest.raises(RuntimeError, match="forward"):
        model.backward(np.zeros((1, 2), dtype=np.float32))


def test_loss_gradient_is_in_place_and_float32():
    logits = np.random.default_rng(0).normal(size=(8, 10)).astype(np.float32)
    _, grad = softmax_cross_entropy_(logits, np.zeros(8, dtype=np.int64))
    assert grad is logits and grad.dtype == np.float32


def test_forward_hidden_returns_every_hidden_layer_and_the_logits():
    model = MLP((6, 5, 4, 3), seed=0)
    x = np.random.default_rng(0).random((2, 6), dtype=np.float32)
    logits, hidden = model.forward_hidden(x)
    assert [h.shape for h in hidden] == [(2, 5), (2, 4)] and all((h >= 0).all() for h in hidden)
    np.testing.assert_array_equal(logits, model.forward(x))
    np.testing.assert_allclose(hidden[-1] @ model.weights[-1] + model.biases[-1], logits, rtol=1e-6)
    assert model.activations is None  # nothing kept for a backward pass


def test_all_zero_weights_leave_the_hidden_layers_without_gradient():
    model = MLP(init="zeros")
    assert not model.params.any()
    x = np.random.default_rng(0).random((8, 784))
    logits = model.forward(x, keep=True)
    grads = model.backward(logits - np.eye(10)[np.arange(8)])
    assert not any(g.any() for g in model.grad_weights)  # symmetry: no weight can move
    assert model.grad_biases[-1].any() and not model.grad_biases[0].any()
    assert grads is model.grads
    with pytest.raises(ValueError, match="init"):
        MLP(init="ones")


def test_sigmoid_hidden_layers_compute_the_logistic_function():
    model = MLP((6, 5, 4, 3), seed=0, dtype=np.float64, activation="sigmoid")
    x = np.random.default_rng(0).normal(scale=30, size=(4, 6))  # far into both saturated ends
    logits, hidden = model.forward_hidden(x)
    z1 = x @ model.weights[0] + model.biases[0]
    np.testing.assert_allclose(hidden[0], 1 / (1 + np.exp(-z1)), rtol=1e-12, atol=1e-300)
    z2 = hidden[0] @ model.weights[1] + model.biases[1]
    np.testing.assert_allclose(hidden[1], 1 / (1 + np.exp(-z2)), rtol=1e-12)
    np.testing.assert_allclose(logits, hidden[1] @ model.weights[2] + model.biases[2], rtol=1e-12)
    with np.errstate(over="raise"):  # float32 saturates cleanly: no overflow, outputs in [0, 1]
        saturated = MLP((2, 3, 2), activation="sigmoid").forward_hidden(np.array([[1e6, -1e6]]))[1][0]
    assert ((saturated >= 0) & (saturated <= 1)).all()


def test_activation_slope_is_the_derivative_read_from_the_output():
    relu, sigmoid = MLP((2, 2), activation="relu"), MLP((2, 2), activation="sigmoid", dtype=np.float64)
    np.testing.assert_array_equal(relu.activation_slope(np.array([0.0, 0.5, 3.0])), [False, True, True])
    z = np.linspace(-6, 6, 25)
    a = 1 / (1 + np.exp(-z))
    numeric = (1 / (1 + np.exp(-(z + 1e-6))) - 1 / (1 + np.exp(-(z - 1e-6)))) / 2e-6
    np.testing.assert_allclose(sigmoid.activation_slope(a), numeric, rtol=1e-6)
    assert sigmoid.activation_slope(a).max() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="activation"):
        MLP(activation="tanh")


@pytest.mark.parametrize(("init", "scale"), [("he", 1.0), ("too_small", 0.01), ("too_large", 5.0)])
def test_initial_weights_are_he_times_the_init_scale(init, scale):
    model = MLP(seed=0, init=init)
    for w in model.weights:
        assert w.std() == pytest.approx(scale * np.sqrt(2 / w.shape[0]), rel=0.1)
    assert not any(b.any() for b in model.biases)
    np.testing.assert_allclose(model.params, MLP(seed=0).params * np.float32(scale), rtol=1e-6)
