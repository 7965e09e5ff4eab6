"""Tamper-evident evidence log (RFC 9162 Merkle tree). So far: hashing, proofs and the
verifiers; storage, signed checkpoints and the CLI follow."""
