"""Thin HTTP routers over the domain services, one module per domain."""
