"""Reference implementations of third-party services, for tests, demos and local development.

Each one is a real, separately runnable server speaking the service's wire format with its
own storage; adapters are tested against them over real sockets, not against mocks.
"""
