"""Architectures that trials train: fixed layer stacks now, cells and blocks later."""

from scinas.search_space.architecture import Architecture, LayerStackArchitecture

__all__ = ["Architecture", "LayerStackArchitecture"]
