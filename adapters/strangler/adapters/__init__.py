"""Adapters: one module per legacy protocol boundary."""
