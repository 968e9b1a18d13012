"""A run that diverges keeps the epochs it recorded finite: they are scored, only later ones not."""

import numpy as np
import pytest
import torch
from conftest import TINY_RECIPE

from klomflow.datasets import ImageDataset
from klomflow.layout import LayoutFormat
from klomflow.margins import Diverged, EpochMargins
from klomflow.retraining import retrain_cell
from klomflow.scoring import EPOCH_COLUMNS, read_scores, score_epochs
from klomflow.splits import SPLITS
from klomflow.stacking import ModelStack
from klomflow.tables import write_tsv
from klomflow.training import Trainer, TrainingRecipe
from klomflow.unlearning import UnlearningData, run_method, unlearn
from klomflow.unlearning.registry import resolve_method

N_MODELS = 2


@pytest.fixture(scope="module")
def dataset():
    generator = torch.Generator().manual_seed(0)
    return ImageDataset(
        torch.randn(40, 1, 8, 8, generator=generator),
        torch.arange(40) % 10,
        torch.randn(10, 1, 8, 8, generator=generator),
        torch.arange(10) % 10,
    )


FORGET_SET = np.arange(8)


def oracle_margins(dataset):
    rng = np.random.default_rng(0)
    sizes = {split: len(labels) for split, (_, labels) in dataset.splits(FORGET_SET).items()}
    return {split: rng.normal(size=(N_MODELS, n)).astype(np.float32) for split, n in sizes.items()}


def diverged_record(dataset, epochs):
    """A method that leaves the models alone in epoch 1 and makes them NaN from epoch 2."""
    splits = dataset.splits(FORGET_SET)
    models = ModelStack.initialised("digits_cnn", N_MODELS, seed=0, device="cpu")
    data = UnlearningData(splits["retain"], splits["forget"], N_MODELS, seed=0)
    with pytest.raises(Diverged) as error:
        run_method(
            resolve_method("methods_for_tests:poisons_from"),
            models,
            data,
            splits,
            epochs,
            {"diverge_at": 2},
            full_retrain_cost=1.0,
            entry="methods.late",
        )
    assert error.value.epoch == 2
    return EpochMargins.of_diverged(error.value, epochs), models, splits


def test_a_method_keeps_the_epochs_recorded_before_it_diverged(dataset, tmp_path):
    recorded, _, splits = diverged_record(dataset, [3, 1, 2])
    assert (recorded.finite_epochs, recorded.diverged_epochs) == ([1], [2, 3])
    fresh = ModelStack.initialised("digits_cnn", N_MODELS, seed=0, device="cpu")
    for split in SPLITS:  # epoch 1 left the models as they were
        np.testing.assert_array_equal(recorded.margins[split][0], fresh.margins(*splits[split]))
    recorded.save(tmp_path / "margins.npz")
    loaded = EpochMargins.load(tmp_path / "margins.npz")
    assert (loaded.epochs, loaded.compute_pct, loaded.diverged) == (
        recorded.epochs,
        recorded.compute_pct,
        recorded.diverged,
    )
    for split in SPLITS:
        np.testing.assert_array_equal(loaded.margins[split], recorded.margins[split])


def test_only_the_epochs_from_the_divergence_on_are_reported_diverged(dataset, tmp_path):
    recorded, _, _ = diverged_record(dataset, [1, 2, 3])
    rows = score_epochs(recorded, oracle_margins(dataset))
    assert {(r["epoch"], r["status"]) for r in rows} == {
        (1, "ok"),
        (2, "diverged"),
        (3, "diverged"),
    }
    assert len(rows) == 3 * len(SPLITS)
    assert all(np.isfinite(r["klom_p95"]) for r in rows if r["epoch"] == 1)
    write_tsv(tmp_path / "klom.tsv", rows, EPOCH_COLUMNS)
    assert len(read_scores(tmp_path / "klom.tsv", EPOCH_COLUMNS)) == len(rows)


def test_a_run_diverged_before_its_first_recorded_epoch_has_nothing_to_score(dataset, tmp_path):
    error = Diverged("methods.ga", "lr=1000000.0", 1, 60, 60)
    EpochMargins.of_diverged(error, [1, 2]).save(tmp_path / "margins.npz")
    loaded = EpochMargins.load(tmp_path / "margins.npz")
    assert (loaded.finite_epochs, loaded.diverged_epochs) == ([], [1, 2])
    rows = score_epochs(loaded, oracle_margins(dataset))
    assert {(r["epoch"], r["status"]) for r in rows} == {(1, "diverged"), (2, "diverged")}


def test_a_retraining_cell_keeps_the_epochs_trained_before_it_diverged(
    dataset, monkeypatch, caplog
):
    train_epoch = Trainer.train_epoch

    def diverging_in_epoch_2(self, stop=None):
        loss = train_epoch(self, stop)
        if self.epoch >= 2:  # as a learning rate that grows too large would
            for p in self.stack.parameters():
                p.data.fill_(float("nan"))
        return loss

    monkeypatch.setattr(Trainer, "train_epoch", diverging_in_epoch_2)
    recipe = TrainingRecipe(**{**TINY_RECIPE, "epochs": 3})
    recorded = retrain_cell(
        dataset,
        FORGET_SET,
        "digits_cnn",
        recipe,
        n_models=N_MODELS,
        noise=0.0,
        seed=0,
        device="cpu",
    )
    assert "margins not finite after epoch 2" in recorded.diverged
    assert f"diverged: {recorded.diverged}" in caplog.text  # a warning, not a failed job
    assert (recorded.finite_epochs, recorded.diverged_epochs) == ([1], [2, 3])
    assert recorded.compute_pct == [pytest.approx(100 * 32 / 40 / 3)]
    assert recorded.margins["retain"].shape == (1, N_MODELS, 32)
    assert np.isfinite(recorded.margins["retain"]).all()


def test_a_method_setting_that_diverges_is_a_record_not_a_failed_job(dataset, tmp_path, caplog):
    reference = LayoutFormat("digits_cnn", epoch=0, n_train=40, n_val=10)
    reference.write_forget_set(tmp_path / "forget_set.npy", FORGET_SET)
    models = ModelStack.initialised("digits_cnn", N_MODELS, seed=0, device="cpu")
    reference.write_checkpoints(tmp_path / "models", models.state_dicts())
    setting = {"method": "methods_for_tests:poisons_from", "epochs": [1, 2, 3], "seed": 0}
    recorded = unlearn(
        reference,
        dataset,
        tmp_path / "forget_set.npy",
        tmp_path / "models",
        "late",
        {**setting, "diverge_at": 2},
        n_models=N_MODELS,
        training_epochs=3,
        device="cpu",
    )
    assert "methods.late: diverge_at=2: margins not finite after epoch 2" in recorded.diverged
    assert f"diverged: {recorded.diverged}" in caplog.text  # a warning, not a failed job
    assert (recorded.finite_epochs, recorded.diverged_epochs) == ([1], [2, 3])
    assert recorded.margins["forget"].shape == (1, N_MODELS, len(FORGET_SET))
