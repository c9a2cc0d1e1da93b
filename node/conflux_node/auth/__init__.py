"""Authentication and authorization primitives: who is calling, and may they do this.

The pieces here decide; they do not serve. Password and API-key hashing, JWT issue and
verification, the casbin policy built from replicated state, the login rate limiter and
the log redaction filter are all plain functions or small thread-safe objects, so the
API layer can wire them into its middleware and every node reaches the same verdict
from the same replicated state.
"""
