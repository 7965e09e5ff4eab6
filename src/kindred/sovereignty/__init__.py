"""Customer data sovereignty: DIDs and keys, consent credentials, the data passport, the
policy decision point every read of customer-authorized data passes, provenance, erasure."""
