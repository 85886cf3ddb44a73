"""The training template: hooks, batch sources, progress, seeded builds, weight rollback.

``TokenSynthesizer`` is a small token model (one token per column: Embedding,
MultiheadAttention, LayerNorm) written only against the hooks, the way GTCoder will be.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import skmixsynth
from skmixsynth import BaseSynthesizer, IndependentSynthesizer, MixGANSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.nn import ColumnBatches

CPU = torch.device("cpu")


class _TokenNet(nn.Module):
    """Numerical tokens by a linear map, level tokens by an embedding, one attention layer."""

    def __init__(self, n_numerical, cardinalities, d_model):
        super().__init__()
        self.n_numerical = n_numerical
        self.register_buffer("offsets", torch.as_tensor(
            np.concatenate([[0], np.cumsum(cardinalities)[:-1]]) if cardinalities else
            np.zeros(0), dtype=torch.long))
        self.register_buffer("cards", torch.as_tensor(list(cardinalities), dtype=torch.long))
        self.numerical = nn.Linear(1, d_model)
        self.levels = nn.Embedding(max(1, int(sum(cardinalities))), d_model)
        self.position = nn.Embedding(n_numerical + len(cardinalities), d_model)
        self.attention = nn.MultiheadAttention(d_model, 2, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.numerical_head = nn.Linear(d_model, 1)
        self.level_head = nn.Linear(d_model, max(1, max(cardinalities, default=1)))

    def tokens(self, numerical, codes):
        parts = [self.numerical(numerical.unsqueeze(-1))]
        if codes.shape[1]:
            parts.append(self.levels(codes + self.offsets))
        x = torch.cat(parts, dim=1) + self.position.weight
        return self.norm(x + self.attention(x, x, x, need_weights=False)[0])

    def heads(self, h):
        num = torch.sigmoid(self.numerical_head(h[:, : self.n_numerical]).squeeze(-1))
        logits = self.level_head(h[:, self.n_numerical:])
        width = torch.arange(logits.shape[-1], device=logits.device)
        return num, logits.masked_fill(width >= self.cards[:, None], float("-inf"))


class TokenSynthesizer(BaseSynthesizer):
    """A token model on the hooks: ColumnBatches, a resolved size, schedules by progress."""

    def __init__(self, *, d_model=8, lr=0.01, epochs=2, batch_size=64,
                 numerical_encoding="quantile", max_categories=None, categorical_columns=None,
                 numerical_columns=None, column_encoders=None, min_count=5,
                 identifiers="fresh", device="cpu", random_state=None, verbose=0):
        self.d_model = d_model
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.numerical_encoding = numerical_encoding
        self.max_categories = max_categories
        self.categorical_columns = categorical_columns
        self.numerical_columns = numerical_columns
        self.column_encoders = column_encoders
        self.min_count = min_count
        self.identifiers = identifiers
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _resolve_params(self, layout):
        return {"n_tokens_": layout.n_numerical + len(layout.discrete_spans)}

    def _build_modules(self, layout):
        return {"net": _TokenNet(layout.n_numerical, list(layout.cardinalities), self.d_model)}

    def _batch_source(self, encoder, frame):
        return ColumnBatches(*encoder.transform_columns(frame), self.batch_size, self.device_)

    def _phases(self, n_batches):
        return [("fit", self.epochs)]

    def _start_phase(self, phase):
        self._optim = torch.optim.Adam(self.modules_.parameters(), lr=self.lr)

    def _train_step(self, phase, batch, generator, *, progress):
        numerical, codes = batch
        net = self.modules_["net"]
        num, logits = net.heads(net.tokens(numerical, codes))
        loss = ((num - numerical) ** 2).sum(1).mean()
        if codes.shape[1]:
            loss = loss + nn.functional.cross_entropy(logits.flatten(0, 1), codes.flatten())
        self._optim.zero_grad()
        loss.backward()
        self._optim.step()
        self.seen_.append(progress)
        return {"loss": loss.detach()}

    def _generate(self, n_samples, generator):
        net = self.modules_["net"]
        device = net.offsets.device
        numerical = torch.rand(n_samples, net.n_numerical, generator=generator, device=device)
        codes = (torch.rand(n_samples, len(net.cards), generator=generator, device=device)
                 * net.cards).long()
        num, logits = net.heads(net.tokens(numerical, codes))
        return num, logits.argmax(-1)

    def _on_fit_end(self):
        self.__dict__.pop("_optim", None)

    def fit(self, X, y=None):
        self.seen_ = []
        return super().fit(X, y)


@pytest.fixture(scope="module")
def real():
    return make_mixed(150, missing_rate=0.05, random_state=0)


# -------------------------------------------------------------------- hooks
def test_a_token_model_trains_on_column_batches(real):
    model = TokenSynthesizer(random_state=0).fit(real)
    layout = model.encoder_.layout_
    assert model.n_tokens_ == layout.n_numerical + len(layout.discrete_spans)
    fake = model.sample(40, random_state=0)
    assert fake.shape == (40, real.shape[1]) and list(fake.dtypes) == list(real.dtypes)
    assert len(model.history_) == 2 and np.isfinite(model.history_[-1]["loss"])


def test_progress_counts_epochs_and_steps_within_each_phase(real):
    class TwoPhases(TokenSynthesizer):
        def _phases(self, n_batches):
            return [("warm", 2), ("main", 3)]

    model = TwoPhases(batch_size=40, random_state=0).fit(real)  # 150 rows: 4 batches
    seen = model.seen_
    assert len(seen) == (2 + 3) * 4
    warm, main = seen[:8], seen[8:]
    assert [p.step for p in warm] == list(range(8)) and [p.step for p in main] == list(range(12))
    assert [p.epoch for p in main] == [0] * 4 + [1] * 4 + [2] * 4
    assert {(p.n_epochs, p.n_steps) for p in warm} == {(2, 8)}
    assert {(p.n_epochs, p.n_steps) for p in main} == {(3, 12)}
    assert main[0].fraction == 0.0 and main[-1].fraction == 11 / 12


def test_make_encoder_is_the_encoder_that_is_fitted(real):
    assert IndependentSynthesizer()._make_encoder().point_masses is None
    model = MixGANSynthesizer(point_masses=0.3)
    encoder = model._make_encoder()
    assert encoder.point_masses == 0.3 and encoder.dtype == np.float32
    assert not hasattr(encoder, "layout_")  # unfitted


def test_resolve_params_is_what_fit_and_load_set(real, tmp_path):
    model = MixGANSynthesizer(latent_dim=4, noise_dim=3, encoder_dims=(8,), decoder_dims=(8,),
                              generator_dims=(8,), discriminator_dims=(8,), ae_epochs=1,
                              epochs=1, device="cpu", random_state=0).fit(real)
    assert model._resolve_params(model.encoder_.layout_) == {"noise_dim_": 3}
    assert model.noise_dim_ == 3
    twin = skmixsynth.load(model.save(tmp_path / "m.pt"))
    assert twin.noise_dim_ == 3
    token = TokenSynthesizer(epochs=1, random_state=0).fit(real)
    assert skmixsynth.load(token.save(tmp_path / "t.pt")).n_tokens_ == token.n_tokens_


def test_build_modules_is_pure(real):
    model = MixGANSynthesizer(ema_decay=0.5, device="cpu", ae_epochs=1, epochs=1,
                              random_state=0).fit(real)
    before = dict(vars(model))
    modules = model._build_modules(model.encoder_.layout_)
    assert set(modules) == set(model.modules_)
    assert vars(model).keys() == before.keys()
    assert all(vars(model)[k] is v for k, v in before.items())


def test_resolved_names_must_be_fitted_attributes(real):
    class Bad(IndependentSynthesizer):
        def _resolve_params(self, layout):
            return {"width": layout.width}

    with pytest.raises(TypeError, match="ending with '_'; got 'width'"):
        Bad().fit(real)


def test_an_interruption_in_the_first_epoch_leaves_nothing_fitted(real):
    class Stop(TokenSynthesizer):
        def _train_step(self, phase, batch, generator, *, progress):
            raise KeyboardInterrupt

    model = Stop(random_state=0)
    with pytest.raises(KeyboardInterrupt):
        model.fit(real)
    assert not [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]



def test_the_token_model_samples_are_reproducible(real):
    a = TokenSynthesizer(random_state=4).fit(real).sample(30, random_state=1)
    b = TokenSynthesizer(random_state=4).fit(real).sample(30, random_state=1)
    pd.testing.assert_frame_equal(a, b)


# ------------------------------------------------------------- seeded builds
def _weights(model):
    return {k: v.clone() for k, v in model.modules_.state_dict().items()}


def test_every_layer_type_is_seeded(real):
    # epochs=0: the weights are the initial ones
    a = _weights(TokenSynthesizer(epochs=0, random_state=0).fit(real))
    b = _weights(TokenSynthesizer(epochs=0, random_state=0).fit(real))
    c = _weights(TokenSynthesizer(epochs=0, random_state=1).fit(real))
    kinds = {"net.levels.weight", "net.position.weight", "net.attention.in_proj_weight",
             "net.attention.out_proj.weight", "net.norm.weight", "net.numerical.weight"}
    assert kinds <= set(a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    random = [k for k in a if not torch.equal(a[k], c[k])]
    assert kinds - {"net.norm.weight"} <= set(random)  # LayerNorm starts at ones either way


@pytest.mark.parametrize("random_state", [0, None])
@pytest.mark.parametrize("make", [
    lambda rs: TokenSynthesizer(epochs=1, random_state=rs),
    lambda rs: IndependentSynthesizer(random_state=rs, device="cpu"),
    lambda rs: MixGANSynthesizer(latent_dim=4, encoder_dims=(8,), decoder_dims=(8,),
                                 generator_dims=(8,), discriminator_dims=(8,), ae_epochs=1,
                                 epochs=1, device="cpu", random_state=rs),
], ids=["token", "independent", "mixgan"])
def test_global_random_states_are_left_alone(real, make, random_state, tmp_path):
    # the global states, read only (the point is that the library never touches them)
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()  # noqa: NPY002
    model = make(random_state).fit(real)
    model.sample(50)
    common = model.sample(50, random_state=3)["plan"].mode()[0]  # one the model generates
    model.sample(20, conditions={"plan": common})
    model.score(real)
    skmixsynth.load(model.save(tmp_path / "m.pt")).sample(5)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


# ------------------------------------------------------------ weight rollback
class _Counting(TokenSynthesizer):
    """Adds 1 to every weight per step; the loss turns NaN at the third epoch of "main"."""

    def _phases(self, n_batches):
        return [("warm", 1), ("main", 5)]

    def _train_step(self, phase, batch, generator, *, progress):
        with torch.no_grad():
            for p in self.modules_.parameters():
                p.add_(1.0)
        if progress.step % (progress.n_steps // progress.n_epochs) == 0:
            self.epoch_starts_.append(_weights(self))
        bad = phase == "main" and progress.epoch == 2
        if bad:
            with torch.no_grad():
                for p in self.modules_.parameters():
                    p.fill_(float("nan"))
        return {"loss": torch.tensor(float("nan") if bad else 1.0)}

    def fit(self, X, y=None):
        self.epoch_starts_ = []
        return super().fit(X, y)


def test_a_non_finite_loss_restores_the_last_finite_epoch(real):
    model = _Counting(batch_size=40, random_state=0)  # 4 batches per epoch
    with pytest.raises(FloatingPointError, match=r"phase 'main' at epoch 2\. The model of the "
                                                 r"last finite epoch was kept"):
        model.fit(real)
    assert [(h["phase"], h["epoch"]) for h in model.history_] == [
        ("warm", 0), ("main", 0), ("main", 1)]
    # the state at the end of main epoch 1 = the start of main epoch 2 less its first step
    expected = {k: v - 1.0 if v.is_floating_point() else v
                for k, v in model.epoch_starts_[-1].items()}
    got = _weights(model)
    assert set(got) == set(expected)
    for key in got:  # every floating tensor is a parameter; the integer buffers never move
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0)
    assert all(torch.isfinite(p).all() for p in model.modules_.parameters())
    assert model.sample(5, random_state=0).shape == (5, real.shape[1])


def test_a_non_finite_loss_in_the_first_epoch_leaves_nothing_fitted(real):
    class EarlyNaN(_Counting):
        def _phases(self, n_batches):
            return [("main", 3)]

        def _train_step(self, phase, batch, generator, *, progress):
            return {"loss": torch.tensor(float("nan"))}

    model = EarlyNaN(random_state=0)
    with pytest.raises(FloatingPointError, match="No epoch had finished"):
        model.fit(real)
    assert not hasattr(model, "modules_") and not hasattr(model, "encoder_")
