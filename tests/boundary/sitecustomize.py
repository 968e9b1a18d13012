"""Loaded at start-up by every Python process of a test that puts this folder on
PYTHONPATH: lets torchvision read the tests' fake CIFAR-10 files, whose MD5 sums
cannot be the real ones. Nothing else is changed, and nothing is imported
until torchvision's CIFAR module is."""

import importlib.abc
import importlib.util
import os
import sys

TARGET = "torchvision.datasets.cifar"


class _SkipCifarChecksums(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            module.check_integrity = lambda *args, **kwargs: True

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("KLOMFLOW_TEST_FAKE_CIFAR10"):
    sys.meta_path.insert(0, _SkipCifarChecksums())
