"""Offline verification of a ledger proof bundle — no database, no Kindred server.

A third party (say, a tender committee checking a service-fulfilment record) receives:

1. the enterprise's **verifier key** (``kindred ledger public-key``), obtained out of band;
2. a **signed checkpoint** (a C2SP signed note: origin, tree size, root hash);
3. a **proof bundle** (``kindred ledger prove INDEX --out bundle.json``), JSON::

       {"format": "kindred-ledger-bundle/1",
        "index": 41, "tree_size": 1000,
        "leaf": "<base64 of the exact leaf bytes>",
        "inclusion_proof": ["<base64 hash>", ...],
        "checkpoint": "<the signed note text>"}

   The leaf bytes are canonical JSON holding the entry kind, pseudonymous subject ids, a
   salted commitment to the record and a timestamp — never personal data. Whoever holds the
   record and its salt can recompute the commitment and show it matches.

``verify_bundle`` checks, in order: the checkpoint's signature by the trusted key, that the
bundle's tree size equals the checkpoint's, and that the leaf's RFC 9162 inclusion proof
leads to the checkpoint's root. It returns the parsed leaf on success and raises
``VerificationError`` with the reason otherwise.

Command line: ``kindred ledger verify-bundle --key KEY --bundle bundle.json``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from kindred.ledger.merkle import ProofError, leaf_hash, verify_inclusion
from kindred.ledger.note import Checkpoint, NoteError, Verifier, open_note

BUNDLE_FORMAT = "kindred-ledger-bundle/1"


class VerificationError(ValueError):
    pass


def verify_bundle(bundle: dict[str, Any], verifier_key: str) -> dict[str, Any]:
    try:
        if bundle.get("format") != BUNDLE_FORMAT:
            raise VerificationError(f"not a {BUNDLE_FORMAT} bundle")
        verifier = Verifier.parse(verifier_key)
        checkpoint = Checkpoint.parse(open_note(bundle["checkpoint"], verifier))
        if int(bundle["tree_size"]) != checkpoint.size:
            raise VerificationError(
                f"the proof is for tree size {bundle['tree_size']}, the checkpoint is for "
                f"{checkpoint.size}"
            )
        leaf = base64.b64decode(bundle["leaf"], validate=True)
        proof = [base64.b64decode(p, validate=True) for p in bundle["inclusion_proof"]]
        verify_inclusion(
            int(bundle["index"]), checkpoint.size, leaf_hash(leaf), proof, checkpoint.root
        )
        parsed: dict[str, Any] = json.loads(leaf)
        return parsed
    except (NoteError, ProofError) as error:
        raise VerificationError(str(error)) from None
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        if isinstance(error, VerificationError):
            raise
        raise VerificationError(f"malformed bundle: {error}") from None
