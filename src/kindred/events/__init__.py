"""Event bus: CloudEvents envelope, type catalog, ingest, dead letters, bus port and adapters."""
