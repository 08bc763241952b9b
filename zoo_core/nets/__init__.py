"""Shared torch building blocks: identity encoders, AdaIN, discriminators and losses.

Importing this package imports torch; the rest of ``zoo_core`` never imports it at start-up.
"""
