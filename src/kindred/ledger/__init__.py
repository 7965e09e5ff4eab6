"""Tamper-evident evidence log (RFC 9162 Merkle tree): hashing, proofs and verifiers
(``merkle``), C2SP signed notes (``note``), storage and checkpoints (``service``), witness
copies outside the database (``witness``), offline bundle checks (``verifier``)."""
