"""nn/_core.py: FoldedMLP (the eval-mode fast path of small networks) and the batch sources."""

import numpy as np
import pytest
import torch
from torch import nn

from skmixsynth import Layout, Span
from skmixsynth.nn import (
    ColumnBatches,
    FoldedMLP,
    MixGANDecoder,
    MixGANGenerator,
    TensorBatches,
    fast_hidden_dtype,
    seeded_generator,
)

CPU = torch.device("cpu")


def trained_batchnorm(module, n_in, generator):
    """Give the batch-norm layers non-trivial running statistics and affine weights."""
    module.train()
    for _ in range(5):
        module(torch.randn(64, n_in, generator=generator) * 3 + 1)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d) and m.affine:
            m.weight.data.uniform_(0.5, 2.0, generator=generator)
            m.bias.data.normal_(generator=generator)
    return module.eval()


@pytest.mark.parametrize("activation", [nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.LeakyReLU(0.1),
                                        nn.Identity()])
@pytest.mark.parametrize("last_activation", [True, False])
def test_folded_equals_eval_modules(activation, last_activation):
    g = seeded_generator(0, CPU)
    torch.manual_seed(0)
    layers = [nn.Linear(5, 16), nn.BatchNorm1d(16), activation, nn.Linear(16, 8),
              nn.BatchNorm1d(8, affine=False), activation, nn.Linear(8, 3)]
    if last_activation:
        layers.append(activation)
    net = trained_batchnorm(nn.Sequential(*layers), 5, g)
    x = torch.randn(32, 5, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(FoldedMLP(net)(x), net(x), rtol=1e-5, atol=1e-5)


def test_folded_mixgan_sampling_path():
    layout = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
                     Span("c", "categorical", 1, 4, "softmax")))
    g = seeded_generator(1, CPU)
    torch.manual_seed(1)
    gen = trained_batchnorm(MixGANGenerator(6, (12, 10), 4), 6, g)
    dec = MixGANDecoder(4, (8, 8), layout).eval()
    z = torch.randn(50, 6, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(FoldedMLP(gen.body, dec.body, dec.head)(z), dec(gen(z)),
                                   rtol=1e-5, atol=1e-5)
    # the modules themselves are untouched
    assert gen.body[1].running_var.shape == (12,)


def test_folded_rejects_what_it_cannot_fold():
    with pytest.raises(TypeError, match="cannot fold a Dropout"):
        FoldedMLP(nn.Sequential(nn.Linear(2, 2), nn.Dropout()))
    with pytest.raises(TypeError, match="only right after a Linear"):
        FoldedMLP(nn.Sequential(nn.BatchNorm1d(2), nn.Linear(2, 2)))
    with pytest.raises(TypeError, match="expects a Linear before Tanh"):
        FoldedMLP(nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Tanh()))


def test_bfloat16_hidden_layers_stay_close_and_return_float32():
    g = seeded_generator(2, CPU)
    torch.manual_seed(2)
    net = trained_batchnorm(nn.Sequential(nn.Linear(6, 32), nn.BatchNorm1d(32), nn.Tanh(),
                                          nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 5)), 6, g)
    x = torch.randn(256, 6, generator=g)
    with torch.no_grad():
        exact = net(x)
        low = FoldedMLP(net, hidden_dtype=torch.bfloat16)(x)
    assert low.dtype == torch.float32
    err = (low - exact).abs()
    assert float(err.max()) < 0.05 * float(exact.abs().max())
    assert 0 < float(err.mean()) < 0.01 * float(exact.abs().mean())


def test_fast_hidden_dtype():
    assert fast_hidden_dtype(torch.device("meta")) is None
    assert fast_hidden_dtype("cuda") is None
    cpu = fast_hidden_dtype(CPU)
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert cpu is (torch.bfloat16 if native else None)


# ------------------------------------------------------------------ batch sources
def test_column_batches_match_tensor_batches_row_for_row():
    rng = np.random.default_rng(0)
    numerical = rng.random((23, 2)).astype(np.float32)
    codes = rng.integers(0, 3, (23, 2))
    onehot = np.concatenate([numerical, np.eye(3)[codes[:, 0]], np.eye(3)[codes[:, 1]]], axis=1)
    columns = ColumnBatches(numerical, codes, 5, CPU)
    tensors = TensorBatches(onehot, 5, CPU)
    assert (columns.n_rows, columns.n_batches) == (tensors.n_rows, tensors.n_batches) == (23, 5)
    pairs = list(columns.iter_epoch(seeded_generator(3, CPU)))
    blocks = list(tensors.iter_epoch(seeded_generator(3, CPU)))
    assert [num.shape[0] for num, _ in pairs] == [5, 5, 5, 4, 4]
    seen = []
    for (num, code), block in zip(pairs, blocks, strict=True):
        assert num.dtype == torch.float32 and code.dtype == torch.int64
        torch.testing.assert_close(num, block[:, :2])
        assert torch.equal(code[:, 0], block[:, 2:5].argmax(1))
        assert torch.equal(code[:, 1], block[:, 5:8].argmax(1))
        seen += [tuple(r) for r in code.tolist()]
    # every row once per epoch, in an order drawn from the generator
    assert sorted(seen) == sorted(tuple(r) for r in codes.tolist())
    again = [code for _, code in columns.iter_epoch(seeded_generator(4, CPU))]
    assert not all(torch.equal(a[1], b) for a, b in zip(pairs, again, strict=True))


def test_column_batches_reject_mismatched_rows():
    with pytest.raises(ValueError, match=r"same number of rows.*\(4, 1\) and \(3, 1\)"):
        ColumnBatches(np.zeros((4, 1)), np.zeros((3, 1), dtype=int), 2, CPU)
