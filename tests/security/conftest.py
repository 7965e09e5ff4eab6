"""The security suite reuses the API tests' world: a territory tree and one user per role."""

from tests.api.conftest import world  # noqa: F401  (a fixture, used by name)
