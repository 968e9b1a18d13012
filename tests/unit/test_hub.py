"""Reference sets from the hub, through the real hub client and a stand-in hub on 127.0.0.1."""

import json
import socket

import numpy as np
import pytest
import torch
from conftest import easydub_hub_files, write_hub_cache
from hub_server import StandInHub

from klomflow import hub
from klomflow.benchmarks import EASYDUB, KLOM_MODELS
from klomflow.datasets import ImageDataset
from klomflow.hub import (
    EasyDUBSource,
    HubError,
    KlomModelsSource,
    resolve_commit,
    source,
)
from klomflow.layout import EasyDUBLayout
from klomflow.margins import margins_from_logits
from klomflow.models import build_model
from klomflow.provenance import provenance
from klomflow.reference import build_pretrain_margins

EASYDUB_REPO, KLOM_MODELS_REPO = EASYDUB.repo_id, KLOM_MODELS.repo_id
N_TRAIN, N_VAL, N = 30, 8, 2
FORGET = np.array([3, 17, 9])


@pytest.fixture
def stand_in():
    server = StandInHub().start()
    yield server
    server.stop()


def easydub_layout(root):
    return EasyDUBLayout(root, "cifar10", "resnet9", 23, n_train=N_TRAIN, n_val=N_VAL)


def easydub_repo(layout, forget=FORGET):
    return easydub_hub_files(layout, N, forget)


def settings(server, tmp_path, repo_id=EASYDUB_REPO, revision="main"):
    return {
        "repo_id": repo_id,
        "revision": revision,
        "cache_dir": tmp_path / "cache",
        "endpoint": server.endpoint,
        "file_list": tmp_path / "job.log.files",
    }


@pytest.fixture
def served(tmp_path, stand_in):
    """The EasyDUB dataset on the stand-in hub: its files, hub settings and commit."""
    files = easydub_repo(easydub_layout(tmp_path / "repo-shape"))
    commit = stand_in.add(EASYDUB_REPO, files)
    return files, settings(stand_in, tmp_path), commit


def closed_port_endpoint():
    """An endpoint on this machine where nothing listens: an unreachable hub."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize(
    "part",
    [
        "forget_set",
        "pretrain",
        "pretrain_retain",
        "pretrain_val",
        "pretrain_forget",
        "oracle",
        "checkpoints",
    ],
)
def test_each_part_fetches_exactly_its_files(tmp_path, stand_in, served, part):
    _, hub_settings, commit = served
    layout = easydub_layout(tmp_path / "easydub")
    if part != "forget_set":  # every other part is checked against the forget set
        EasyDUBSource(layout).download("forget_set", N, 2, hub_settings, commit)
        stand_in.downloads.clear()
    EasyDUBSource(layout).download(part, N, 2, hub_settings, commit)
    expected = sorted(EasyDUBSource(layout).files(part, N, 2))
    assert sorted(stand_in.downloads) == expected
    assert all((layout.root / f).is_file() for f in expected)


def test_each_download_jobs_output_is_filled_by_the_part_it_names(tmp_path):
    layout = easydub_layout(tmp_path / "easydub")
    easydub = EasyDUBSource(layout)
    # The outputs of the workflow's download_easydub* jobs for forget set 2.
    outputs = [
        layout.forget_set_file(2),
        layout.pretrain_dir("retain"),
        layout.pretrain_dir("val"),
        layout.pretrain_dir("forget_2"),
        layout.oracle_set_dir(2),
        layout.checkpoint_dir(),
    ]
    fetched = []
    for output in outputs:
        part, forget_set = easydub.part_of(output)
        files = [layout.root / f for f in easydub.files(part, N, forget_set)]
        assert files and all(f == output or output in f.parents for f in files), output
        fetched += files
    every_file = easydub.run_files(N, [2], checkpoints=True)
    assert sorted(fetched) == sorted(layout.root / f for f in every_file)
    with pytest.raises(ValueError, match="not a file or folder of the EasyDUB dataset's layout"):
        easydub.part_of(layout.root / "margins/cifar10/pretrain/test/resnet9")


def test_what_a_run_needs_is_all_it_fetches(tmp_path, stand_in, served):
    _, hub_settings, commit = served
    layout = easydub_layout(tmp_path / "easydub")
    for part in ("forget_set", "pretrain", "pretrain_forget", "oracle"):
        EasyDUBSource(layout).download(part, 1, 2, hub_settings, commit)
    fetched = set(stand_in.downloads)
    assert "margins/cifar10/pretrain/retain/resnet9/id_1_epoch_23.npy" not in fetched  # model N
    assert "margins/cifar10/oracle/forget_2/val/resnet9/id_1_epoch_23.npy" in fetched  # oracle 2N-1
    assert not any(f.startswith("models/") for f in fetched)  # checkpoints only for methods
    assert fetched == set(source("easydub", layout).run_files(1, [2], checkpoints=False))


def test_downloaded_reference_reads_like_a_local_one(tmp_path, served):
    _, hub_settings, commit = served
    layout = easydub_layout(tmp_path / "easydub")
    for part in ("forget_set", "pretrain", "pretrain_forget", "oracle"):
        EasyDUBSource(layout).download(part, N, 2, hub_settings, commit)
    np.testing.assert_array_equal(layout.read_forget_set(2), FORGET)
    assert layout.pretrain_margins("retain", 2, range(N)).shape == (N, N_TRAIN - 3)
    assert layout.oracle_margins(2, "forget", range(2 * N)).shape == (2 * N, 3)


def test_files_already_in_place_are_not_fetched_again(tmp_path, stand_in, served):
    _, hub_settings, commit = served
    layout = easydub_layout(tmp_path / "easydub")
    EasyDUBSource(layout).download("forget_set", N, 2, hub_settings, commit)
    EasyDUBSource(layout).download("forget_set", N, 2, hub_settings, commit)
    assert len(stand_in.downloads) == 1


# -- the commit ------------------------------------------------------------------


def test_a_branch_resolves_to_the_commit_it_points_at(tmp_path, stand_in, served):
    _, hub_settings, commit = served
    assert resolve_commit(hub_settings, []) == commit


def test_every_file_is_fetched_at_the_resolved_commit_after_the_branch_moved(
    tmp_path, stand_in, served
):
    files, hub_settings, commit = served
    layout = easydub_layout(tmp_path / "easydub")
    forget_set = "forget_sets/cifar10/forget_set_2.npy"
    stand_in.add(EASYDUB_REPO, {**files, forget_set: np.array([1, 2, 4])})  # main moves on
    EasyDUBSource(layout).download("forget_set", N, 2, hub_settings, commit)
    np.testing.assert_array_equal(layout.read_forget_set(2), FORGET)


def test_a_commit_hash_is_used_without_asking_the_hub(tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    unreachable = {
        "repo_id": EASYDUB_REPO,
        "revision": commit,
        "cache_dir": tmp_path,
        "endpoint": closed_port_endpoint(),
    }
    assert resolve_commit(unreachable, []) == commit


def test_offline_a_branch_resolves_to_the_commit_the_cache_recorded(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    commit = write_hub_cache(tmp_path / "cache", EASYDUB_REPO, {"a.npy": np.zeros(1)})
    cached = {"repo_id": EASYDUB_REPO, "revision": "main", "cache_dir": tmp_path / "cache"}
    assert resolve_commit(cached, []) == commit


def test_provenance_records_the_commit_the_data_was_fetched_at(tmp_path, served):
    _, hub_settings, commit = served
    record = tmp_path / "hub_commit.json"
    hub.resolve_run_commit(hub_settings, [], record)
    config = {
        "benchmark": "cifar10",
        "forget_sets": [2],
        "n_models": N,
        "reference": {"source": "easydub"},
        "hub": {"easydub": {"repo_id": EASYDUB_REPO, "revision": "main"}},
    }
    dataset = provenance(config, tmp_path, [record])["dataset"]
    assert dataset["revision"] == "main"
    assert dataset["commit"] == commit and len(commit) == 40
    assert json.loads(record.read_text())["commit"] == commit


# -- hub failures: one line naming repo, revision and file or cause ---------------


def one_line_error(call) -> str:
    with pytest.raises(HubError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message and error.value.__cause__ is None
    return message


def test_a_file_missing_on_the_hub_is_named(tmp_path, stand_in, served):
    files, hub_settings, _ = served
    absent = "margins/cifar10/pretrain/val/resnet9/id_1_epoch_23.npy"
    commit = stand_in.add(EASYDUB_REPO, {f: c for f, c in files.items() if f != absent})
    layout = easydub_layout(tmp_path / "easydub")
    message = one_line_error(
        lambda: EasyDUBSource(layout).download("pretrain", N, 2, hub_settings, commit)
    )
    assert message == (
        f"dataset {EASYDUB_REPO} at revision {commit}: no file {absent} on the hub "
        "(missing in the dataset)"
    )
    assert not (layout.root / absent).exists()


def test_an_unknown_revision_is_named(tmp_path, served):
    _, hub_settings, _ = served
    message = one_line_error(lambda: resolve_commit({**hub_settings, "revision": "v9"}, []))
    assert message.startswith(
        f"dataset {EASYDUB_REPO} at revision v9: revision not found on the hub; "
    )


def test_an_unknown_commit_is_named(tmp_path, served):
    _, hub_settings, _ = served
    layout = easydub_layout(tmp_path / "easydub")
    commit = "f" * 40
    message = one_line_error(
        lambda: EasyDUBSource(layout).download("forget_set", N, 2, hub_settings, commit)
    )
    assert message.startswith(f"dataset {EASYDUB_REPO} at revision {commit}: revision not found")


def test_a_gated_dataset_says_access_is_denied(tmp_path, stand_in, served):
    _, hub_settings, _ = served
    stand_in.gated.add(EASYDUB_REPO)
    message = one_line_error(lambda: resolve_commit(hub_settings, []))
    assert message.startswith(
        f"dataset {EASYDUB_REPO} at revision main: access denied, the dataset is gated; "
    )
    assert "HF_TOKEN" in message


def test_an_unknown_or_private_repository_says_access_is_denied(tmp_path, stand_in):
    hub_settings = settings(stand_in, tmp_path, repo_id="someone/private")
    message = one_line_error(lambda: resolve_commit(hub_settings, []))
    assert message.startswith(
        "dataset someone/private at revision main: access denied or no such repository; "
    )


def test_an_unreachable_hub_gives_the_download_command_for_the_job(tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # the client's retries, at once
    layout = easydub_layout(tmp_path / "easydub")
    commit = "0123456789abcdef0123456789abcdef01234567"
    unreachable = {
        "repo_id": EASYDUB_REPO,
        "cache_dir": "resources/hub_cache",
        "endpoint": closed_port_endpoint(),
    }
    message = one_line_error(
        lambda: EasyDUBSource(layout).download("forget_set", N, 2, unreachable, commit)
    )
    assert message.startswith(
        f"dataset {EASYDUB_REPO} at revision {commit}: hub unreachable (not in the hub cache, "
        "and the hub is not reachable: ConnectError)"
    )
    assert (
        f"`hf download {EASYDUB_REPO} --repo-type dataset --revision {commit} "
        "--cache-dir resources/hub_cache forget_sets/cifar10/forget_set_2.npy`"
    ) in message
    assert "HF_HUB_OFFLINE=1" in message
    assert not layout.forget_set_file(2).exists()


def test_offline_with_an_empty_cache_the_run_lists_every_file_it_needs(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    layout = easydub_layout(tmp_path / "easydub")
    needed = source("easydub", layout).run_files(N, [2], checkpoints=True)
    hub_settings = {
        "repo_id": EASYDUB_REPO,
        "revision": "main",
        "cache_dir": tmp_path / "cache",
        "file_list": tmp_path / "resolve.log.files",
    }
    message = one_line_error(lambda: resolve_commit(hub_settings, needed))
    assert "hub unreachable (HF_HUB_OFFLINE is set and the hub cache does not hold them)" in message
    assert f"--revision main --cache-dir {tmp_path / 'cache'} $(cat {tmp_path}" in message
    assert (tmp_path / "resolve.log.files").read_text().split() == needed


def test_the_download_command_of_the_hint_makes_the_job_work_offline(
    tmp_path, stand_in, served, monkeypatch
):
    from huggingface_hub import snapshot_download

    _, hub_settings, commit = served
    layout = easydub_layout(tmp_path / "easydub")
    needed = source("easydub", layout).run_files(N, [2], checkpoints=False)
    # What `hf download REPO --revision main --cache-dir DIR FILE...` does.
    snapshot_download(
        EASYDUB_REPO,
        repo_type="dataset",
        revision="main",
        cache_dir=hub_settings["cache_dir"],
        allow_patterns=needed,
        endpoint=stand_in.endpoint,
    )
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    offline = {**hub_settings, "endpoint": closed_port_endpoint()}
    assert resolve_commit(offline, needed) == commit
    for part in ("forget_set", "pretrain", "pretrain_forget", "oracle"):
        EasyDUBSource(layout).download(part, N, 2, offline, commit)
    assert layout.pretrain_margins("retain", 2, range(N)).shape == (N, N_TRAIN - 3)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (
            lambda f: f.pop("margins/cifar10/pretrain/val/resnet9/id_1_epoch_23.npy"),
            "no file margins/cifar10/pretrain/val/resnet9/id_1_epoch_23.npy on the hub",
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
def test_validation_names_the_bad_file(tmp_path, stand_in, corrupt, message):
    files = easydub_repo(easydub_layout(tmp_path / "repo-shape"))
    corrupt(files)
    commit = stand_in.add(EASYDUB_REPO, files)
    layout = easydub_layout(tmp_path / "easydub")
    with pytest.raises((ValueError, HubError), match=message):
        EasyDUBSource(layout).download("pretrain", N, 2, settings(stand_in, tmp_path), commit)


@pytest.mark.parametrize(
    "forget, message",
    [
        (np.array([3, 3, 9]), "index 3 appears more than once"),
        (np.array([3, 30]), "index 30 outside the train split 0..29"),
    ],
)
def test_bad_forget_set_on_the_hub_is_named(tmp_path, stand_in, forget, message):
    files = easydub_repo(easydub_layout(tmp_path / "repo-shape"), forget=forget)
    commit = stand_in.add(EASYDUB_REPO, files)
    layout = easydub_layout(tmp_path / "easydub")
    with pytest.raises(ValueError, match=f"forget_set_2.npy: {message}"):
        EasyDUBSource(layout).download("forget_set", N, 2, settings(stand_in, tmp_path), commit)


def test_a_checkpoint_that_does_not_load_is_named(tmp_path, stand_in):
    files = easydub_repo(easydub_layout(tmp_path / "repo-shape"))
    files["models/cifar10/pretrain/resnet9/id_1_epoch_23.pt"] = build_model(
        "digits_cnn"
    ).state_dict()
    commit = stand_in.add(EASYDUB_REPO, files)
    layout = easydub_layout(tmp_path / "easydub")
    with pytest.raises(ValueError, match="id_1_epoch_23.pt: does not load into resnet9 "):
        EasyDUBSource(layout).download("checkpoints", N, 2, settings(stand_in, tmp_path), commit)


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


def klom_models_files(padded: bool = False) -> dict:
    """A small KLOM-models dataset in its own layout (docs/sources.md): model numbers padded or not."""
    rng = np.random.default_rng(1)
    number = "{:02d}".format if padded else str
    files = {"forget_set_indices/CIFAR10/forget_set_2.npy": FORGET}
    for m in range(2 * N + 1):  # one oracle more than a run of N needs
        folder = "oracles/CIFAR10/forget_set_2"
        train = torch.from_numpy(rng.normal(size=(N_TRAIN, 10)))
        files[f"{folder}/train_logits_{number(m)}.pt"] = train
        files[f"{folder}/val_logits_{number(m)}.pt"] = torch.from_numpy(
            rng.normal(size=(N_VAL, 10))
        )
        files[f"{folder}/{number(m)}__val_margins_23.npy"] = np.zeros(N_VAL, np.float32)
    for m in range(N):
        state = {f"model.{k}": v for k, v in build_model("resnet9").state_dict().items()}
        files[f"full_models/CIFAR10/sd_{number(m)}____epoch_23.pt"] = state
    return files


def klom_models_pretrain(layout, dataset, hub_settings, commit):
    """What the download_klom_models_pretrain job does: place the checkpoints, then their margins."""
    KlomModelsSource(layout).download_pretrain(N, hub_settings, commit)
    build_pretrain_margins(
        layout.format,
        dataset,
        n_models=N,
        device="cpu",
        checkpoint_dir=layout.checkpoint_dir(),
        retain_dir=layout.pretrain_dir("retain"),
        val_dir=layout.pretrain_dir("val"),
    )


@pytest.fixture
def klom_models(tmp_path, stand_in):
    """KLOM-models on the stand-in hub: its files, hub settings and commit."""
    files = klom_models_files()
    commit = stand_in.add(KLOM_MODELS_REPO, files)
    return files, settings(stand_in, tmp_path, KLOM_MODELS_REPO), commit


def test_klom_models_oracles_become_margins_in_the_easydub_layout(
    tmp_path, cifar_like, klom_models
):
    files, hub_settings, commit = klom_models
    layout = easydub_layout(tmp_path / "klom-models")
    KlomModelsSource(layout).download_forget_set(2, hub_settings, commit)
    KlomModelsSource(layout).download_oracles(cifar_like, 2, N, hub_settings, commit)
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
    files, hub_settings, commit = klom_models
    layout = easydub_layout(tmp_path / "klom-models")
    KlomModelsSource(layout).download_forget_set(2, hub_settings, commit)
    klom_models_pretrain(layout, cifar_like, hub_settings, commit)
    model = build_model("resnet9").eval()
    state = files["full_models/CIFAR10/sd_1____epoch_23.pt"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    with torch.no_grad():
        expected = margins_from_logits(model(cifar_like.val_images), cifar_like.val_labels)
    np.testing.assert_allclose(
        layout.pretrain_margins("val", 2, [1])[0], expected.numpy(), rtol=1e-4, atol=1e-4
    )
    assert layout.read_checkpoints([0])[0].keys() == model.state_dict().keys()


def test_klom_models_logits_of_the_wrong_shape_are_named(
    tmp_path, stand_in, cifar_like, klom_models
):
    files, hub_settings, _ = klom_models
    files["oracles/CIFAR10/forget_set_2/val_logits_1.pt"] = torch.zeros(N_VAL, 7)
    commit = stand_in.add(KLOM_MODELS_REPO, files)
    layout = easydub_layout(tmp_path / "klom-models")
    KlomModelsSource(layout).download_forget_set(2, hub_settings, commit)
    with pytest.raises(ValueError, match=r"val_logits_1.pt: logits have shape \(8, 7\), expected"):
        KlomModelsSource(layout).download_oracles(cifar_like, 2, N, hub_settings, commit)


def test_klom_models_fetches_only_the_logits_of_the_2n_oracles(
    tmp_path, stand_in, cifar_like, klom_models
):
    _, hub_settings, commit = klom_models
    layout = easydub_layout(tmp_path / "klom-models")
    KlomModelsSource(layout).download_forget_set(2, hub_settings, commit)
    stand_in.downloads.clear()
    KlomModelsSource(layout).download_oracles(cifar_like, 2, N, hub_settings, commit)
    folder = "oracles/CIFAR10/forget_set_2"
    assert sorted(stand_in.downloads) == sorted(
        f"{folder}/{split}_logits_{m}.pt" for split in ("train", "val") for m in range(2 * N)
    )


def test_klom_models_zero_padded_names_are_found_in_the_listing(tmp_path, stand_in, cifar_like):
    files = klom_models_files(padded=True)
    commit = stand_in.add(KLOM_MODELS_REPO, files)
    hub_settings = settings(stand_in, tmp_path, KLOM_MODELS_REPO)
    layout = easydub_layout(tmp_path / "klom-models")
    KlomModelsSource(layout).download_forget_set(2, hub_settings, commit)
    KlomModelsSource(layout).download_oracles(cifar_like, 2, N, hub_settings, commit)
    klom_models_pretrain(layout, cifar_like, hub_settings, commit)
    logits = files["oracles/CIFAR10/forget_set_2/val_logits_03.pt"]
    expected = margins_from_logits(logits, cifar_like.val_labels).numpy()
    np.testing.assert_allclose(layout.oracle_margins(2, "val", [3])[0], expected, rtol=1e-6)


def test_klom_models_a_name_that_matches_nothing_names_pattern_and_folder(
    tmp_path, stand_in, cifar_like, klom_models
):
    files, hub_settings, _ = klom_models
    del files["oracles/CIFAR10/forget_set_2/train_logits_1.pt"]
    commit = stand_in.add(KLOM_MODELS_REPO, files)
    layout = easydub_layout(tmp_path / "klom-models")
    KlomModelsSource(layout).download_forget_set(2, hub_settings, commit)
    message = one_line_error(
        lambda: KlomModelsSource(layout).download_oracles(cifar_like, 2, N, hub_settings, commit)
    )
    assert message.startswith(
        "no file matching train_logits_1.pt (model number zero-padded or not) in the folder "
        f"oracles/CIFAR10/forget_set_2 of dataset {KLOM_MODELS_REPO} at revision {commit}"
    )
    assert not layout.oracle_dir(2, "val").exists()


def test_images_of_other_sizes_than_the_reference_are_refused(tmp_path, klom_models):
    files, hub_settings, commit = klom_models
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
        klom_models_pretrain(layout, small, hub_settings, commit)
