"""The pure core: entities, commands, validation, release rules and `apply`.

Nothing in this package does I/O, reads the clock or draws random numbers. The node
that proposes a command stamps time and identity into it, so every replica that
applies the same log reaches the same state (import-linter enforces the purity).
"""
