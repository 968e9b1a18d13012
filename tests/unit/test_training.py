"""The multi-model trainer (docs/recipe.md): deterministic, models independent."""

import dataclasses
import logging
import os
import signal

import numpy as np
import pytest
import torch
from conftest import TINY_RECIPE

from klomflow import training
from klomflow.batches import PerModelBatches
from klomflow.resume import read_checked, write_checked
from klomflow.stacking import ModelStack
from klomflow.training import Trainer, TrainingRecipe, train_models

RECIPE = TrainingRecipe(**TINY_RECIPE)


@pytest.fixture(scope="module")
def data():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(100, 1, 8, 8, generator=generator)
    labels = torch.randint(0, 10, (100,), generator=generator)
    return images, labels


def _args(data, **kwargs):
    return dict(n_models=3, seed=0, eval_splits={"train": data}, every_epoch=True) | kwargs


def train(data, **kwargs):
    return train_models("digits_cnn", data, RECIPE, **_args(data, **kwargs))


def test_margins_are_recorded_per_epoch_model_and_sample(data):
    run = train(data)
    assert run.margins["train"].shape == (2, 3, 100)
    assert run.margins["train"].dtype == np.float32
    final = train(data, every_epoch=False).margins["train"]
    np.testing.assert_array_equal(final, run.margins["train"][-1])


def test_same_seed_gives_bit_identical_models_on_cpu(data):
    first, second = train(data), train(data)
    np.testing.assert_array_equal(first.margins["train"], second.margins["train"])
    for a, b in zip(first.stack.state_dicts(), second.stack.state_dicts()):
        for key in a:
            assert torch.equal(a[key], b[key])


def test_models_in_a_stack_differ_from_each_other(data):
    margins = train(data).margins["train"][-1]
    assert not np.allclose(margins[0], margins[1])
    assert not np.allclose(margins[1], margins[2])


def test_a_model_is_the_same_whatever_stack_it_is_trained_in(data):
    stacked = train(data).margins["train"]
    alone = train(data, n_models=1, first_model=2).margins["train"]
    np.testing.assert_allclose(alone[:, 0], stacked[:, 2], rtol=0, atol=1e-4)


def test_other_seed_gives_other_models(data):
    a = train(data).margins["train"]
    b = train(data, seed=1).margins["train"]
    assert not np.allclose(a, b)


def test_gradient_noise_changes_the_models(data):
    quiet = train(data).margins["train"]
    noisy = train(data, grad_noise=0.1).margins["train"]
    assert not np.allclose(quiet, noisy)
    with pytest.raises(ValueError, match="gradient noise"):
        train(data, grad_noise=-1.0)


def test_schedule_rises_to_the_peak_lr_and_falls_to_lr_over_div_factors(data):
    stack = ModelStack.initialised("digits_cnn", 2, 0, "cpu")
    trainer = Trainer(stack, *data, RECIPE, seed=0)
    lrs = []
    for _ in range(RECIPE.epochs * len(trainer.batches)):
        lrs.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.optimizer.step()  # no gradients: nothing moves but the schedule
        trainer.scheduler.step()
    steps_per_epoch = len(trainer.batches)
    assert lrs[0] == pytest.approx(RECIPE.lr / RECIPE.div_factor)
    assert max(lrs) == pytest.approx(RECIPE.lr)
    assert int(np.argmax(lrs)) == pytest.approx(RECIPE.peak_epoch * steps_per_epoch, abs=1)
    assert lrs[-1] == pytest.approx(RECIPE.lr / RECIPE.div_factor / RECIPE.final_div_factor)


def test_resuming_from_a_state_dict_continues_exactly(data):
    def fresh():
        return Trainer(
            ModelStack.initialised("digits_cnn", 2, 0, "cpu"),
            *data,
            RECIPE,
            seed=0,
            grad_noise=0.01,
        )

    straight = fresh()
    straight.train_epoch()
    saved = straight.state_dict()
    straight.train_epoch()

    resumed = fresh()
    resumed.load_state_dict(saved)
    resumed.train_epoch()
    assert resumed.epoch == straight.epoch == 2
    torch.testing.assert_close(
        resumed.stack.margins(*data), straight.stack.margins(*data), rtol=0, atol=0
    )


def test_a_last_batch_of_one_sample_is_left_for_the_next_epoch(data):
    # A batch of one would make BatchNorm's training statistics those of a single image.
    images, labels = data[0][:33], data[1][:33]
    stack = ModelStack.initialised("digits_cnn", 2, 0, "cpu")
    trainer = Trainer(stack, images, labels, RECIPE, seed=0)
    batches = list(trainer.batches.epoch())
    assert [tuple(b.shape) for b in batches] == [(2, 16), (2, 16)]
    for model in range(2):
        assert len(set(torch.cat([b[model] for b in batches]).tolist())) == 32
    trainer.train_epoch()
    assert trainer.scheduler.last_epoch == 2  # steps taken: the sample waited


def test_a_last_batch_of_two_samples_is_trained_on():
    batches = list(PerModelBatches(34, 16, [0], "cpu").epoch())
    assert [b.shape[1] for b in batches] == [16, 16, 2]
    assert sorted(torch.cat([b[0] for b in batches]).tolist()) == list(range(34))


def test_recipe_rejects_zero_epochs():
    with pytest.raises(ValueError, match="training.epochs must be at least 1"):
        TrainingRecipe(**{**RECIPE.__dict__, "epochs": 0})


def _stop_after(epochs: int, monkeypatch):
    """Make training die (as a killed job would) once ``epochs`` epochs are done."""
    original = Trainer.train_epoch

    def train_epoch(self, **kwargs):
        if self.epoch == epochs:
            raise KeyboardInterrupt
        return original(self, **kwargs)

    monkeypatch.setattr(Trainer, "train_epoch", train_epoch)


def test_a_run_stopped_mid_way_resumes_from_its_resume_file_to_the_same_result(
    data, tmp_path, monkeypatch, caplog
):
    recipe = dataclasses.replace(RECIPE, epochs=4)
    resume = tmp_path / "resume" / "run.pt"
    uninterrupted = train_models("digits_cnn", data, recipe, **_args(data))
    with monkeypatch.context() as patch:
        _stop_after(2, patch)
        with pytest.raises(KeyboardInterrupt):
            train_models("digits_cnn", data, recipe, **_args(data), resume_file=resume)
    assert resume.is_file()
    with caplog.at_level(logging.INFO, logger="klomflow.training"):
        resumed = train_models("digits_cnn", data, recipe, **_args(data), resume_file=resume)
    assert "resuming after epoch 2 of 4" in caplog.text
    np.testing.assert_array_equal(resumed.margins["train"], uninterrupted.margins["train"])
    for a, b in zip(resumed.stack.state_dicts(), uninterrupted.stack.state_dicts()):
        for key in a:
            assert torch.equal(a[key], b[key]), key
    assert not resume.exists()  # removed once the run completed
    assert list(resume.parent.iterdir()) == []  # and no temporary file left


def _stopped_run(data, resume, monkeypatch, recipe=RECIPE, **kwargs) -> None:
    """Leave the resume file of a run killed after its first epoch at ``resume``."""
    with monkeypatch.context() as patch:
        _stop_after(1, patch)
        with pytest.raises(KeyboardInterrupt):
            train_models("digits_cnn", data, recipe, **_args(data, **kwargs), resume_file=resume)
    assert resume.is_file()


def test_a_run_recording_margins_only_at_the_end_resumes_to_the_same_result(
    data, tmp_path, monkeypatch, caplog
):
    # Pretrain and oracle models: a resume file with no margins in it yet.
    resume = tmp_path / "run.pt"
    _stopped_run(data, resume, monkeypatch, every_epoch=False)
    with caplog.at_level(logging.INFO, logger="klomflow.training"):
        resumed = train(data, every_epoch=False, resume_file=resume)
    assert "resuming after epoch 1 of 2" in caplog.text
    np.testing.assert_array_equal(
        resumed.margins["train"], train(data, every_epoch=False).margins["train"]
    )
    assert not resume.exists()


def _send_sigterm_at_step(step: int, monkeypatch) -> None:
    """SIGTERM to this process, as SLURM sends it, during training step ``step`` (from 1)."""
    original, calls = training.add_gradient_noise, []

    def add_gradient_noise(*args):
        calls.append(1)
        if len(calls) == step:
            os.kill(os.getpid(), signal.SIGTERM)
        original(*args)

    monkeypatch.setattr(training, "add_gradient_noise", add_gradient_noise)


def test_sigterm_saves_the_state_after_the_current_step_and_exits_143(
    data, tmp_path, monkeypatch, caplog
):
    resume = tmp_path / "run.pt"
    handler = signal.getsignal(signal.SIGTERM)
    with monkeypatch.context() as patch, caplog.at_level(logging.INFO, "klomflow.training"):
        _send_sigterm_at_step(10, patch)  # 7 steps per epoch: step 3 of epoch 2
        with pytest.raises(SystemExit) as stopped:
            train(data, resume_file=resume)
    assert stopped.value.code == 143
    assert "SIGTERM: stopped after epoch 1 of 2 and 3 of 7 steps of epoch 2" in caplog.text
    assert resume.is_file()
    assert signal.getsignal(signal.SIGTERM) is handler  # restored on the way out


def test_a_run_stopped_inside_an_epoch_resumes_to_the_same_result(
    data, tmp_path, monkeypatch, caplog
):
    resume = tmp_path / "run.pt"
    with monkeypatch.context() as patch:
        _send_sigterm_at_step(10, patch)
        with pytest.raises(SystemExit):
            train(data, grad_noise=0.01, resume_file=resume)
    with caplog.at_level(logging.INFO, logger="klomflow.training"):
        resumed = train(data, grad_noise=0.01, resume_file=resume)
    assert "resuming after epoch 1 of 2 and 3 of 7 steps of epoch 2" in caplog.text
    uninterrupted = train(data, grad_noise=0.01)
    np.testing.assert_array_equal(resumed.margins["train"], uninterrupted.margins["train"])
    for a, b in zip(resumed.stack.state_dicts(), uninterrupted.stack.state_dicts()):
        for key in a:
            assert torch.equal(a[key], b[key]), key
    assert not resume.exists()


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _not_a_torch_file(path):
    path.write_bytes(b"truncated")


def _drop_a_key(path):
    state = read_checked(path)
    del state["trainer"]["noise"]
    write_checked(path, state)


def _drop_the_margins_of_a_split(path):
    state = read_checked(path)
    state["margins"] = {}
    write_checked(path, state)


@pytest.mark.parametrize(
    "spoil, reason",
    [
        (_truncate, "unreadable"),
        (_not_a_torch_file, "unreadable"),
        (_drop_a_key, "does not fit this run"),
        (_drop_the_margins_of_a_split, "does not fit this run"),
    ],
    ids=["truncated", "not-a-torch-file", "missing-key", "missing-margins"],
)
def test_an_unusable_resume_file_is_removed_with_one_warning_naming_it(
    spoil, reason, data, tmp_path, monkeypatch, caplog
):
    resume = tmp_path / "run.pt"
    _stopped_run(data, resume, monkeypatch)
    spoil(resume)
    caplog.clear()
    run = train(data, resume_file=resume)
    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{resume}: {reason}")
    assert "\n" not in warnings[0]
    np.testing.assert_array_equal(run.margins["train"], train(data).margins["train"])
    assert not resume.exists()


def test_a_resume_file_of_another_klomflow_version_is_removed(data, tmp_path, monkeypatch, caplog):
    resume = tmp_path / "run.pt"
    _stopped_run(data, resume, monkeypatch)
    monkeypatch.setattr(training, "__version__", "0.0.1-other")
    caplog.clear()
    run = train(data, resume_file=resume)
    assert _warnings(caplog) == [
        f"{resume}: written by another run's arguments or klomflow version; "
        "removed, starting from epoch 1"
    ]
    np.testing.assert_array_equal(run.margins["train"], train(data).margins["train"])


def test_a_resume_file_of_another_run_is_removed_not_resumed_from(
    data, tmp_path, monkeypatch, caplog
):
    resume = tmp_path / "run.pt"
    _stopped_run(data, resume, monkeypatch, seed=1)
    caplog.clear()
    run = train(data, resume_file=resume)
    assert "another run's arguments" in _warnings(caplog)[0]
    assert not resume.exists()  # so that a retry does not meet it again
    np.testing.assert_array_equal(run.margins["train"], train(data).margins["train"])


def test_a_run_without_a_resume_file_says_it_starts_from_epoch_1(data, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="klomflow.training"):
        train(data, resume_file=tmp_path / "run.pt")
    assert f"starting from epoch 1: no resume state in {tmp_path / 'run.pt'}" in caplog.text


def test_a_completed_run_removes_the_partial_resume_file_a_kill_mid_write_left(data, tmp_path):
    resume = tmp_path / "run.pt"
    partial = tmp_path / ".run.pt.k2j3h4.pt"  # as klomflow.files names it
    partial.write_bytes(b"half a resume file")
    train(data, resume_file=resume)
    assert list(tmp_path.iterdir()) == []


def _zero_400_bytes_inside(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle - 200 : middle + 200] = bytes(400)
    path.write_bytes(bytes(data))


def test_a_resume_file_corrupted_inside_is_removed_and_the_run_starts_over(
    data, tmp_path, monkeypatch, caplog
):
    recipe = dataclasses.replace(RECIPE, epochs=3)
    resume = tmp_path / "run.pt"
    _stopped_run(data, resume, monkeypatch, recipe=recipe)
    # The bytes zeroed lie inside a tensor: torch alone would load them.
    _zero_400_bytes_inside(resume)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="klomflow.training"):
        run = train_models("digits_cnn", data, recipe, **_args(data), resume_file=resume)
    assert _warnings(caplog) == [
        f"{resume}: corrupt (its SHA-256 checksum does not match its contents); "
        "removed, starting from epoch 1"
    ]
    assert "resuming" not in caplog.text
    uninterrupted = train_models("digits_cnn", data, recipe, **_args(data))
    np.testing.assert_array_equal(run.margins["train"], uninterrupted.margins["train"])
    assert not resume.exists()


def test_a_resume_path_that_is_a_directory_never_fails_the_run(data, tmp_path, monkeypatch, caplog):
    resume = tmp_path / "run.pt"
    (resume / "kept").mkdir(parents=True)  # someone's directory: left as it is
    caplog.clear()
    with monkeypatch.context() as patch, caplog.at_level(logging.INFO, "klomflow.training"):
        _send_sigterm_at_step(10, patch)
        with pytest.raises(SystemExit) as stopped:
            train(data, resume_file=resume)
    assert stopped.value.code == 143
    assert _warnings(caplog)[0] == (
        f"{resume}: a directory, not a file; this run keeps no resume state "
        "(a stopped run starts over)"
    )
    assert "no state saved, a new run starts from epoch 1" in _warnings(caplog)[1]
    caplog.clear()
    run = train(data, resume_file=resume)
    assert len(_warnings(caplog)) == 1
    np.testing.assert_array_equal(run.margins["train"], train(data).margins["train"])
    assert (resume / "kept").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def test_a_resume_file_that_cannot_be_written_never_fails_the_run(data, tmp_path, caplog):
    blocker = tmp_path / "resume"
    blocker.write_text("a file where the resume directory should be")
    resume = blocker / "run.pt"
    run = train(data, resume_file=resume)
    [warning] = _warnings(caplog)
    assert warning.startswith(f"{resume}: cannot be written (")
    assert warning.endswith("this run keeps no resume state (a stopped run starts over)")
    np.testing.assert_array_equal(run.margins["train"], train(data).margins["train"])
