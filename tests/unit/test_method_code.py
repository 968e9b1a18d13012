"""A method's code hash: it changes when the code the method runs changes, and only then."""

import hashlib
import inspect
import itertools
import textwrap

import pytest

from klomflow.provenance import provenance
from klomflow.unlearning import methods as builtins
from klomflow.unlearning.code import method_code_hash
from klomflow.unlearning.registry import resolve_method

USER_MODULE = textwrap.dedent(
    """
    import torch

    STEP_SCALE = 1.0


    def _scaled(loss):
        return STEP_SCALE * loss


    def mine(models, data, *, lr=0.01):
        optimizer = torch.optim.SGD(models.parameters(), lr=lr)
        while True:
            yield models


    def other(models, data):
        while True:
            yield _scaled(models)
    """
)


# A new file for each import: a module is imported once per process.
_fresh_names = itertools.count()


def hash_of(tmp_path, source: str, function: str = "mine") -> str:
    """The code hash of ``function`` in a module file holding ``source``, imported afresh."""
    directory = tmp_path / f"v{next(_fresh_names)}"
    directory.mkdir()
    path = directory / "my_methods.py"
    path.write_text(source)
    return method_code_hash(resolve_method(f"{path}:{function}"))


def test_the_hash_is_the_same_for_the_same_code(tmp_path):
    assert hash_of(tmp_path, USER_MODULE) == hash_of(tmp_path, USER_MODULE)


def test_editing_the_method_body_changes_its_hash(tmp_path):
    edited = USER_MODULE.replace("lr=0.01", "lr=0.02")
    assert hash_of(tmp_path, edited) != hash_of(tmp_path, USER_MODULE)


def test_adding_or_editing_an_unrelated_function_leaves_the_hash(tmp_path):
    added = USER_MODULE + "\n\ndef unrelated(models, data):\n    yield models\n"
    other_edited = USER_MODULE.replace("yield _scaled(models)", "yield models")
    assert hash_of(tmp_path, added) == hash_of(tmp_path, USER_MODULE)
    assert hash_of(tmp_path, other_edited) == hash_of(tmp_path, USER_MODULE)


def test_a_helper_and_a_constant_the_method_reaches_count(tmp_path):
    helper_edited = USER_MODULE.replace("return STEP_SCALE * loss", "return loss")
    constant_edited = USER_MODULE.replace("STEP_SCALE = 1.0", "STEP_SCALE = 2.0")
    before = hash_of(tmp_path, USER_MODULE, "other")
    assert hash_of(tmp_path, helper_edited, "other") != before
    assert hash_of(tmp_path, constant_edited, "other") != before
    # `mine` reaches neither.
    assert hash_of(tmp_path, constant_edited) == hash_of(tmp_path, USER_MODULE)


def test_editing_a_builtin_helper_changes_the_hashes_of_the_builtins_that_call_it(tmp_path):
    """On a copy of the built-ins' module: `_step` is called by ascent_forget, not by noisy_descent."""
    source = inspect.getsource(builtins)
    edited = source.replace(
        "optimizer.zero_grad(set_to_none=True)\n    loss", "optimizer.zero_grad()\n    loss"
    )
    assert edited != source
    for name, changes in (("ascent_forget", True), ("scrub", True), ("noisy_descent", False)):
        assert (hash_of(tmp_path, edited, name) != hash_of(tmp_path, source, name)) is changes, name


def test_a_builtin_hash_is_that_of_its_source_in_the_package(tmp_path):
    copied = hash_of(tmp_path, inspect.getsource(builtins), "scrub")
    assert method_code_hash(resolve_method("scrub")) == copied
    assert method_code_hash(resolve_method("scrub")) != method_code_hash(
        resolve_method("ascent_forget")
    )


def test_provenance_records_the_method_code_and_the_users_file(tmp_path):
    path = tmp_path / "my_methods.py"
    path.write_text(USER_MODULE)
    config = {
        "benchmark": "digits",
        "forget_sets": [1],
        "n_models": 2,
        "device": "cpu",
        "reference": {"source": "local", "seed": 0},
    }
    methods = {
        f"{path}:mine": {"code_sha256": "abc", "file": str(path)},
        "scrub": {"code_sha256": "def", "file": None},
    }
    record = provenance(config, tmp_path, methods=methods)["methods"]
    assert record[f"{path}:mine"] == {
        "code_sha256": "abc",
        "file": str(path),
        "file_sha256": hashlib.sha256(USER_MODULE.encode()).hexdigest(),
    }
    assert record["scrub"] == {"code_sha256": "def"}


@pytest.mark.parametrize("name", list(builtins.METHODS))
def test_every_builtin_has_a_code_hash(name):
    assert len(method_code_hash(builtins.METHODS[name])) == 64
