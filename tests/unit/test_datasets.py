"""The embedded digits benchmark, CIFAR-10 loading, and forget-set checks."""

import numpy as np
import pytest
import torch
from conftest import write_fake_cifar10

from klomflow.benchmarks import BENCHMARKS
from klomflow.datasets import (
    DIGITS_FORGET_SET_PICKERS,
    build_digits,
    digits_forget_set,
    load_cifar10,
    load_saved_dataset,
    save_dataset,
)
from klomflow.splits import check_forget_set, retain_indices


@pytest.fixture(scope="module")
def digits():
    return build_digits()


def test_digits_split_sizes_are_the_recorded_ones(digits):
    dataset, index = digits
    assert dataset.n_train == BENCHMARKS["digits"].n_train
    assert len(dataset.val_labels) == BENCHMARKS["digits"].n_val
    assert dataset.train_images.shape == (dataset.n_train, 1, 8, 8)
    assert dataset.train_images.dtype == torch.float32
    assert len(np.intersect1d(index["train_index"], index["val_index"])) == 0
    assert len(index["train_index"]) + len(index["val_index"]) == 1797


def test_digits_split_is_stratified_and_fixed(digits):
    dataset, index = digits
    for c in range(10):
        share = (dataset.val_labels == c).sum().item() / (
            (dataset.train_labels == c).sum().item() + (dataset.val_labels == c).sum().item()
        )
        assert share == pytest.approx(0.2, abs=0.01)
    _, again = build_digits()
    np.testing.assert_array_equal(index["val_index"], again["val_index"])


def test_digits_are_normalised_on_the_train_split(digits):
    dataset, _ = digits
    assert dataset.train_images.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert dataset.train_images.std().item() == pytest.approx(1.0, abs=1e-3)


def test_saved_digits_load_back_identically(digits, tmp_path):
    dataset, index = digits
    save_dataset(dataset, tmp_path / "data.npz", **index)
    loaded = load_saved_dataset(tmp_path / "data.npz")
    assert torch.equal(loaded.train_images, dataset.train_images)
    assert torch.equal(loaded.val_labels, dataset.val_labels)


@pytest.mark.parametrize("k", sorted(DIGITS_FORGET_SET_PICKERS))
def test_digits_forget_sets_are_valid_and_deterministic(digits, k):
    dataset, _ = digits
    indices = digits_forget_set(k, dataset)
    check_forget_set(indices, dataset.n_train)
    np.testing.assert_array_equal(indices, digits_forget_set(k, dataset))


def test_every_registered_digits_forget_set_has_a_picker():
    assert sorted(DIGITS_FORGET_SET_PICKERS) == sorted(BENCHMARKS["digits"].forget_sets)


def test_forget_set_sizes(digits):
    dataset, _ = digits
    assert [len(digits_forget_set(k, dataset)) for k in (1, 2, 3)] == [50, 100, 100]


def test_forget_set_1_holds_the_images_farthest_from_their_class_mean(digits):
    dataset, _ = digits
    pixels = dataset.train_images.flatten(1).numpy().astype(np.float64)
    labels = dataset.train_labels.numpy()
    means = np.stack([pixels[labels == c].mean(0) for c in range(10)])
    distance = np.linalg.norm(pixels - means[labels], axis=1)
    chosen = digits_forget_set(1, dataset)
    assert distance[chosen].min() >= np.delete(distance, chosen).max()


def test_splits_follow_the_forget_set(digits):
    dataset, _ = digits
    forget = np.array([5, 0, 9])
    splits = dataset.splits(forget)
    assert torch.equal(splits["forget"][0], dataset.train_images[[5, 0, 9]])
    assert len(splits["retain"][1]) == dataset.n_train - 3
    assert torch.equal(splits["val"][1], dataset.val_labels)
    np.testing.assert_array_equal(retain_indices(forget, 12), [1, 2, 3, 4, 6, 7, 8, 10, 11])


@pytest.mark.parametrize(
    "indices, message",
    [
        (np.array([1, 2, 2]), "index 2 appears more than once"),
        (np.array([1, 10]), "index 10 outside the train split 0..9"),
        (np.array([-1]), "index -1 outside"),
        (np.array([0.5]), "must be integers"),
        (np.array([], dtype=int), "non-empty"),
        (np.zeros((2, 2), dtype=int), "1-D"),
    ],
)
def test_unusable_forget_sets_are_named(indices, message):
    with pytest.raises(ValueError, match=f"my_set.npy: .*{message}"):
        check_forget_set(indices, 10, source="my_set.npy")


def test_cifar10_is_read_from_a_torchvision_directory_and_normalised(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10, cifar

    write_fake_cifar10(tmp_path)
    # The real files carry known MD5 sums; the fake ones cannot.
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)
    dataset = load_cifar10(tmp_path)
    assert dataset.train_images.shape == (20, 3, 32, 32)
    assert dataset.val_images.shape == (4, 3, 32, 32)
    first = CIFAR10(str(tmp_path), train=True).data[0]  # (32, 32, 3) uint8
    expected = (first[0, 0, 0] / 255.0 - 0.4914) / 0.2023
    assert dataset.train_images[0, 0, 0, 0].item() == pytest.approx(expected, rel=1e-5)


def test_missing_cifar10_names_the_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"CIFAR-10 is not in {tmp_path}"):
        load_cifar10(tmp_path)
