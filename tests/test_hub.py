"""Reference sets from the hub, through the real hub client, served offline from a cache."""

import numpy as np
import pytest
import torch
from conftest import easydub_hub_files, write_hub_cache

from klomflow import hub
from klomflow.datasets import ImageDataset
from klomflow.easydub import EasyDUBLayout
from klomflow.hub import (
    EASYDUB_REPO,
    KLOM_MODELS_REPO,
    HubUnreachable,
    download_easydub_part,
    download_klom_models_forget_set,
    download_klom_models_oracles,
    download_klom_models_pretrain,
    easydub_files,
)
from klomflow.margins import margins_from_logits
from klomflow.models import build_model

N_TRAIN, N_VAL, N = 30, 8, 2
FORGET = np.array([3, 17, 9])


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test here may reach the network: the client serves only its cache."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def easydub_layout(root):
    return EasyDUBLayout(root, "cifar10", "resnet9", 23, n_train=N_TRAIN, n_val=N_VAL)


def easydub_repo(layout, forget=FORGET):
    return easydub_hub_files(layout, N, forget)


@pytest.fixture
def hub_settings(tmp_path):
    return {"repo_id": EASYDUB_REPO, "revision": "main", "cache_dir": tmp_path / "cache"}


@pytest.fixture
def served(tmp_path, hub_settings):
    files = easydub_repo(easydub_layout(tmp_path / "repo-shape"))
    write_hub_cache(hub_settings["cache_dir"], EASYDUB_REPO, files)
    return files


@pytest.fixture
def asked(monkeypatch):
    """The allow_patterns of every snapshot_download call, the real call still made."""
    import huggingface_hub

    calls = []
    real = huggingface_hub.snapshot_download

    def recording(*args, **kwargs):
        calls.append(sorted(kwargs["allow_patterns"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", recording)
    return calls


@pytest.mark.parametrize(
    "part", ["forget_set", "pretrain", "pretrain_forget", "oracle", "checkpoints"]
)
def test_each_part_fetches_exactly_its_files(tmp_path, served, hub_settings, asked, part):
    layout = easydub_layout(tmp_path / "easydub")
    if part != "forget_set":  # every other part is checked against the forget set
        download_easydub_part(layout, "forget_set", N, 2, hub_settings)
        asked.clear()
    download_easydub_part(layout, part, N, 2, hub_settings)
    expected = sorted(easydub_files(layout, part, N, 2))
    assert asked == [expected]
    assert all((layout.root / f).is_file() for f in expected)


def test_what_a_run_needs_is_all_it_fetches(tmp_path, served, hub_settings, asked):
    layout = easydub_layout(tmp_path / "easydub")
    for part in ("forget_set", "pretrain", "pretrain_forget", "oracle"):
        download_easydub_part(layout, part, 1, 2, hub_settings)
    fetched = {f for call in asked for f in call}
    assert "margins/cifar10/pretrain/retain/resnet9/id_1_epoch_23.npy" not in fetched  # model N
    assert "margins/cifar10/oracle/forget_2/val/resnet9/id_1_epoch_23.npy" in fetched  # oracle 2N-1
    assert not any(f.startswith("models/") for f in fetched)  # checkpoints only for methods
    assert len(fetched) == 1 + 2 + 1 + 3 * 2


def test_downloaded_reference_reads_like_a_local_one(tmp_path, served, hub_settings):
    layout = easydub_layout(tmp_path / "easydub")
    for part in ("forget_set", "pretrain", "pretrain_forget", "oracle"):
        download_easydub_part(layout, part, N, 2, hub_settings)
    np.testing.assert_array_equal(layout.read_forget_set(2), FORGET)
    assert layout.pretrain_margins("retain", 2, range(N)).shape == (N, N_TRAIN - 3)
    assert layout.oracle_margins(2, "forget", range(2 * N)).shape == (2 * N, 3)


def test_files_already_in_place_are_not_fetched_again(tmp_path, served, hub_settings, asked):
    layout = easydub_layout(tmp_path / "easydub")
    download_easydub_part(layout, "forget_set", N, 2, hub_settings)
    download_easydub_part(layout, "forget_set", N, 2, hub_settings)
    assert len(asked) == 1


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (
            lambda f: f.pop("margins/cifar10/pretrain/val/resnet9/id_1_epoch_23.npy"),
            "has no file margins/cifar10/pretrain/val/resnet9/id_1_epoch_23.npy",
        ),
        (
            lambda f: f.update(
                {
                    "margins/cifar10/pretrain/val/resnet9/id_0_epoch_23.npy": np.zeros(
                        N_VAL + 2, np.float32
                    )
                }
            ),
            r"id_0_epoch_23.npy: margins have shape \(10,\), expected \(8,\)",
        ),
        (
            lambda f: f.update(
                {
                    "margins/cifar10/pretrain/retain/resnet9/id_1_epoch_23.npy": np.full(
                        N_TRAIN, np.nan, np.float32
                    )
                }
            ),
            "id_1_epoch_23.npy: margins contain nan",
        ),
        (
            lambda f: f.update(
                {"margins/cifar10/pretrain/retain/resnet9/id_0_epoch_23.npy": b"garbage"}
            ),
            "id_0_epoch_23.npy: not a numpy file",
        ),
    ],
)
def test_validation_names_the_bad_file(tmp_path, hub_settings, corrupt, message):
    files = easydub_repo(easydub_layout(tmp_path / "repo-shape"))
    corrupt(files)
    write_hub_cache(hub_settings["cache_dir"], EASYDUB_REPO, files)
    with pytest.raises((ValueError, HubUnreachable), match=message):
        download_easydub_part(easydub_layout(tmp_path / "easydub"), "pretrain", N, 2, hub_settings)


@pytest.mark.parametrize(
    "forget, message",
    [
        (np.array([3, 3, 9]), "index 3 appears more than once"),
        (np.array([3, 30]), "index 30 outside the train split 0..29"),
    ],
)
def test_bad_forget_set_on_the_hub_is_named(tmp_path, hub_settings, forget, message):
    files = easydub_repo(easydub_layout(tmp_path / "repo-shape"), forget=forget)
    write_hub_cache(hub_settings["cache_dir"], EASYDUB_REPO, files)
    with pytest.raises(ValueError, match=f"forget_set_2.npy: {message}"):
        download_easydub_part(
            easydub_layout(tmp_path / "easydub"), "forget_set", N, 2, hub_settings
        )


def test_a_checkpoint_that_does_not_load_is_named(tmp_path, hub_settings):
    files = easydub_repo(easydub_layout(tmp_path / "repo-shape"))
    files["models/cifar10/pretrain/resnet9/id_1_epoch_23.pt"] = build_model(
        "digits_cnn"
    ).state_dict()
    write_hub_cache(hub_settings["cache_dir"], EASYDUB_REPO, files)
    with pytest.raises(ValueError, match="id_1_epoch_23.pt: does not load into resnet9 "):
        download_easydub_part(
            easydub_layout(tmp_path / "easydub"), "checkpoints", N, 2, hub_settings
        )


def test_an_unreachable_hub_says_what_to_download_and_where(tmp_path, hub_settings):
    layout = easydub_layout(tmp_path / "easydub")
    with pytest.raises(HubUnreachable) as error:
        download_easydub_part(layout, "forget_set", N, 2, hub_settings)
    message = str(error.value)
    assert "\n" not in message
    assert f"hf download {EASYDUB_REPO} --repo-type dataset --revision main" in message
    assert f"--include 'forget_sets/cifar10/forget_set_2.npy*' --local-dir {layout.root}" in message
    assert not layout.forget_set_file(2).exists()


def test_more_models_than_the_hub_holds_is_an_error():
    with pytest.raises(ValueError, match="n_models: 101 needs 202 oracles"):
        hub.check_model_count(101)


# -- KLOM-models ---------------------------------------------------------------


@pytest.fixture
def cifar_like():
    generator = torch.Generator().manual_seed(0)
    return ImageDataset(
        torch.randn(N_TRAIN, 3, 32, 32, generator=generator),
        torch.randint(0, 10, (N_TRAIN,), generator=generator),
        torch.randn(N_VAL, 3, 32, 32, generator=generator),
        torch.randint(0, 10, (N_VAL,), generator=generator),
    )


@pytest.fixture
def klom_models(tmp_path, cifar_like):
    """A small KLOM-models dataset in its own layout (SPEC §5) and its hub settings."""
    rng = np.random.default_rng(1)
    files = {"forget_set_indices/CIFAR10/forget_set_2.npy": FORGET}
    for m in range(2 * N):
        folder = "oracles/CIFAR10/forget_set_2"
        files[f"{folder}/train_logits_{m}.pt"] = torch.from_numpy(rng.normal(size=(N_TRAIN, 10)))
        files[f"{folder}/val_logits_{m}.pt"] = torch.from_numpy(rng.normal(size=(N_VAL, 10)))
    for m in range(N):
        state = {f"model.{k}": v for k, v in build_model("resnet9").state_dict().items()}
        files[f"full_models/CIFAR10/sd_{m}____epoch_23.pt"] = state
    settings = {"repo_id": KLOM_MODELS_REPO, "revision": "main", "cache_dir": tmp_path / "cache"}
    write_hub_cache(settings["cache_dir"], KLOM_MODELS_REPO, files)
    return files, settings


def test_klom_models_oracles_become_margins_in_the_easydub_layout(
    tmp_path, cifar_like, klom_models
):
    files, settings = klom_models
    layout = easydub_layout(tmp_path / "klom-models")
    download_klom_models_forget_set(layout, 2, settings)
    download_klom_models_oracles(layout, cifar_like, 2, N, settings)
    logits = files["oracles/CIFAR10/forget_set_2/train_logits_3.pt"]
    train = margins_from_logits(logits, cifar_like.train_labels).numpy()
    keep = np.setdiff1d(np.arange(N_TRAIN), FORGET)
    np.testing.assert_allclose(layout.oracle_margins(2, "retain", [3])[0], train[keep], rtol=1e-6)
    np.testing.assert_allclose(layout.oracle_margins(2, "forget", [3])[0], train[FORGET], rtol=1e-6)
    val = margins_from_logits(
        files["oracles/CIFAR10/forget_set_2/val_logits_0.pt"], cifar_like.val_labels
    ).numpy()
    np.testing.assert_allclose(layout.oracle_margins(2, "val", [0])[0], val, rtol=1e-6)


def test_klom_models_pretrain_margins_come_from_their_checkpoints(
    tmp_path, cifar_like, klom_models
):
    files, settings = klom_models
    layout = easydub_layout(tmp_path / "klom-models")
    download_klom_models_forget_set(layout, 2, settings)
    download_klom_models_pretrain(layout, cifar_like, N, settings, "cpu")
    model = build_model("resnet9").eval()
    state = files["full_models/CIFAR10/sd_1____epoch_23.pt"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    with torch.no_grad():
        expected = margins_from_logits(model(cifar_like.val_images), cifar_like.val_labels)
    np.testing.assert_allclose(
        layout.pretrain_margins("val", 2, [1])[0], expected.numpy(), rtol=1e-4, atol=1e-4
    )
    assert layout.read_checkpoints([0])[0].keys() == model.state_dict().keys()


def test_klom_models_logits_of_the_wrong_shape_are_named(tmp_path, cifar_like, klom_models):
    files, settings = klom_models
    files["oracles/CIFAR10/forget_set_2/val_logits_1.pt"] = torch.zeros(N_VAL, 7)
    write_hub_cache(settings["cache_dir"], KLOM_MODELS_REPO, files)
    layout = easydub_layout(tmp_path / "klom-models")
    download_klom_models_forget_set(layout, 2, settings)
    with pytest.raises(ValueError, match=r"val_logits_1.pt: logits have shape \(8, 7\), expected"):
        download_klom_models_oracles(layout, cifar_like, 2, N, settings)


def test_images_of_other_sizes_than_the_reference_are_refused(tmp_path, klom_models):
    files, settings = klom_models
    small = ImageDataset(
        torch.zeros(5, 3, 32, 32),
        torch.zeros(5, dtype=torch.long),
        torch.zeros(2, 3, 32, 32),
        torch.zeros(2, dtype=torch.long),
    )
    layout = easydub_layout(tmp_path / "klom-models")
    with pytest.raises(
        ValueError, match="images have 5 train and 2 val samples, but the reference"
    ):
        download_klom_models_pretrain(layout, small, N, settings, "cpu")
