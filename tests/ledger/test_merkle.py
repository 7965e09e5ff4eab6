"""RFC 9162 Merkle hashing, proofs and verifiers against the transparency-dev vectors
(every must-fail mutation included) and the reference roots; plus property tests."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kindred.ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)


def vectors(shared_dir: Path, kind: str) -> list[tuple[str, dict]]:
    directory = shared_dir / "vectors" / "rfc9162-merkle" / "testdata" / kind
    files = sorted(directory.rglob("*.json"))
    assert files, f"no {kind} vectors under {directory}"
    return [(str(f.relative_to(directory)), json.loads(f.read_text())) for f in files]


def decode(value: str | None) -> bytes:
    return base64.b64decode(value) if value is not None else b""


def test_inclusion_vectors(shared_dir: Path) -> None:
    cases = vectors(shared_dir, "inclusion")
    failures = []
    for name, case in cases:
        proof = [decode(p) for p in case["proof"] or []]
        try:
            verify_inclusion(
                case["leafIdx"],
                case["treeSize"],
                decode(case["leafHash"]),
                proof,
                decode(case["root"]),
            )
            accepted = True
        except ProofError:
            accepted = False
        if accepted == case["wantErr"]:
            failures.append(name)
    assert failures == []
    assert len(cases) > 50 and sum(c["wantErr"] for _, c in cases) > 40


def test_consistency_vectors(shared_dir: Path) -> None:
    cases = vectors(shared_dir, "consistency")
    failures = []
    for name, case in cases:
        proof = [decode(p) for p in case["proof"] or []]
        try:
            verify_consistency(
                case["size1"], case["size2"], proof, decode(case["root1"]), decode(case["root2"])
            )
            accepted = True
        except ProofError:
            accepted = False
        if accepted == case["wantErr"]:
            failures.append(name)
    assert failures == []
    assert len(cases) > 50 and sum(c["wantErr"] for _, c in cases) > 40


def reference(shared_dir: Path) -> tuple[list[bytes], list[bytes]]:
    source = (shared_dir / "vectors" / "rfc9162-merkle" / "testonly" / "constants.go").read_text()

    def block(function: str) -> list[str]:
        body = source[source.index(f"func {function}()") :]
        body = body[: body.index("\n}\n")]
        return re.findall(r'hd\("([0-9a-f]*)"\)', body)

    leaves = [bytes.fromhex(h) for h in block("LeafInputs")]
    roots = [EMPTY_ROOT] + [bytes.fromhex(h) for h in block("RootHashes")]
    return leaves, roots


def test_reference_roots_for_sizes_0_to_8(shared_dir: Path) -> None:
    leaves, roots = reference(shared_dir)
    assert len(leaves) == 8 and len(roots) == 9
    tree = MerkleTree()
    assert tree.root() == roots[0]
    for size, data in enumerate(leaves, start=1):
        tree.append(data)
        assert tree.root() == roots[size], size
    assert [tree.root(size) for size in range(9)] == roots  # historical sizes too


def test_generated_proofs_match_the_vectors(shared_dir: Path) -> None:
    leaves, _ = reference(shared_dir)
    tree = MerkleTree([leaf_hash(data) for data in leaves])
    for name, case in vectors(shared_dir, "consistency"):
        if name.endswith("happy-path.json") and case["size2"] <= 8:
            assert tree.consistency_proof(case["size1"], case["size2"]) == [
                decode(p) for p in case["proof"] or []
            ]
    for name, case in vectors(shared_dir, "inclusion"):
        if name.endswith("happy-path.json") and case["treeSize"] <= 8:
            assert tree.inclusion_proof(case["leafIdx"], case["treeSize"]) == [
                decode(p) for p in case["proof"] or []
            ]


@settings(max_examples=80, deadline=None)
@given(size=st.integers(1, 70), data=st.data())
def test_every_generated_proof_verifies_and_every_mutation_fails(size: int, data) -> None:
    tree = MerkleTree([leaf_hash(i.to_bytes(4, "big")) for i in range(size)])
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index)
    verify_inclusion(index, size, tree.levels[0][index], proof, tree.root())
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        flipped = bytearray(proof[position])
        flipped[bit // 8] ^= 1 << (bit % 8)
        for bad in (
            proof[:-1],
            [*proof, proof[0]],
            [*proof[:position], bytes(flipped), *proof[position + 1 :]],
        ):
            with pytest.raises(ProofError):
                verify_inclusion(index, size, tree.levels[0][index], bad, tree.root())
    size1 = data.draw(st.integers(1, size))
    consistency = tree.consistency_proof(size1, size)
    verify_consistency(size1, size, consistency, tree.root(size1), tree.root())
    if consistency:
        for bad in (consistency[:-1], [*consistency, consistency[0]]):
            with pytest.raises(ProofError):
                verify_consistency(size1, size, bad, tree.root(size1), tree.root())
