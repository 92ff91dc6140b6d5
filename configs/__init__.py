"""Configuration files. Installed as `xscreen.configs`: the taxonomy, the decision policies and the
scanner profiles ship inside the wheel as package data (pyproject.toml); the recipes for building data,
synthesis and training stay in the checkout. Found through `xscreen.resources`."""
