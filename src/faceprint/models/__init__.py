"""Models: registry, cards, weight sources, runtimes and one file per model implementation."""
