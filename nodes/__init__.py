"""The built-in node packs of nodegraph, one module per family, each registered through the
``nodegraph.nodes`` entry point in pyproject.toml (third-party packs use the same group)."""
