"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and verification.

Leaf hash ``SHA-256(0x00 || data)``, node hash ``SHA-256(0x01 || left || right)``, and the
RFC's shape for trees whose size is not a power of two (split at the largest power of two
smaller than the size). The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step;
they are where real systems were attacked, so every malformed proof must fail — the
transparency-dev conformance vectors (including their mutated, must-fail cases) check that.

Pure functions on ``hashlib``; no database. ``MerkleTree`` keeps every complete subtree hash
so roots and proofs for any historical size cost O(log n) hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof failed verification; the message says why."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (size ≥ 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class MerkleTree:
    """An append-only tree over leaf hashes with all complete subtree hashes kept.

    ``levels[h][i]`` is the hash of the complete subtree of height ``h`` covering leaves
    ``[i·2^h, (i+1)·2^h)``. Such a subtree never changes once complete, so the same
    structure answers questions about every earlier tree size.
    """

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for value in leaf_hashes:
            self.append_hash(value)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, data: bytes) -> int:
        return self.append_hash(leaf_hash(data))

    def append_hash(self, value: bytes) -> int:
        if len(value) != HASH_SIZE:
            raise ValueError("leaf hashes are 32 bytes")
        index = len(self.levels[0])
        self.levels[0].append(value)
        level, position = 0, index
        # Each completed pair completes the parent subtree.
        while position % 2 == 1:
            left = self.levels[level][position - 1]
            right = self.levels[level][position]
            level += 1
            if len(self.levels) == level:
                self.levels.append([])
            self.levels[level].append(node_hash(left, right))
            position //= 2
        return index

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end)."""
        count = end - start
        if count == 1:
            return self.levels[0][start]
        if count & (count - 1) == 0 and start % count == 0:
            height = count.bit_length() - 1
            return self.levels[height][start >> height]
        k = _split(count)
        return node_hash(self._range_hash(start, start + k), self._range_hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")
        return EMPTY_ROOT if size == 0 else self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path for leaf ``index`` in the tree of ``size`` leaves (RFC 9162 2.1.3.1)."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of size {size}")
        proof: list[bytes] = []
        start, end = 0, size
        # Walk down, collecting siblings; the RFC lists them leaf-first, so reverse at the end.
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self._range_hash(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Proof that the tree of ``size1`` is a prefix of the tree of ``size2`` (2.1.4.1)."""
        size2 = self.size if size2 is None else size2
        if not 0 <= size1 <= size2 <= self.size:
            raise ValueError(f"cannot prove {size1} → {size2} (tree has {self.size})")
        if size1 == 0 or size1 == size2:
            return []
        return self._subproof(size1, 0, size2, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        count = end - start
        if m == count:
            return [] if complete else [self._range_hash(start, end)]
        k = _split(count)
        if m <= k:
            return [
                *self._subproof(m, start, start + k, complete),
                self._range_hash(start + k, end),
            ]
        return [*self._subproof(m - k, start + k, end, False), self._range_hash(start, start + k)]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2. Raises ProofError unless ``leaf`` is at ``index`` under ``root``."""
    if index < 0 or size < 0 or index >= size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hashes([leaf, root, *proof])
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short for the tree size")
    if r != root:
        raise ProofError("the inclusion proof does not lead to the root hash")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 §2.1.4.2. Raises ProofError unless tree ``size1`` is a prefix of ``size2``."""
    if size1 < 0 or size2 < 0:
        raise ProofError("tree sizes cannot be negative")
    if size2 < size1:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == 0:
        # Trivially true, hence useless as evidence: refused, as in the reference verifier.
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError("equal tree sizes take an empty proof")
        if root1 != root2:
            raise ProofError("equal tree sizes with different roots")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    _check_hashes([root1, root2, *proof])
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != root1:
        raise ProofError("the consistency proof does not lead to the first root")
    if sr != root2:
        raise ProofError("the consistency proof does not lead to the second root")


def _check_hashes(values: Sequence[bytes]) -> None:
    for value in values:
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise ProofError("every hash in a proof is 32 bytes")
