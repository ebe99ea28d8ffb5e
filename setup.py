"""Packaging glue that pyproject.toml cannot say on its own: the top-level ``graphs/`` (templates)
and ``assets/`` (their pictures) folders stay where they are in the source tree and ship inside the
package as ``nodegraph/_data/graphs`` and ``nodegraph/_data/assets``, where ``nodegraph.templates``
finds them after a plain ``pip install`` (the files they hold are listed in pyproject.toml's
package-data). Everything else is in pyproject.toml."""
from setuptools import find_packages, setup

SHIPPED = {"nodegraph._data.graphs": "graphs", "nodegraph._data.assets": "assets"}

setup(packages=find_packages(include=["nodegraph*", "nodes*"]) + list(SHIPPED), package_dir=SHIPPED)
