/**
 * The browser's bundle verifier against (1) the transparency-dev RFC 9162 inclusion vectors
 * the server's verifier passes (shared/vectors beside the repository), every must-fail
 * mutation included, and (2) a real bundle written by the server's LedgerService
 * (testdata/bundle.json, which tests/api/test_governance_console.py verifies with the Python
 * verifier too): it verifies, and each tampering fails at the right check.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import real from "./testdata/bundle.json";
import {
  checkStates,
  decodeBase64,
  encodeBase64,
  verifyBundle,
  verifyInclusion,
  VerificationFailure,
  type ProofBundle,
} from "./verifier";

// The repository's sibling shared/ folder, as the Python tests find it (tests/conftest.py).
const VECTORS = join(import.meta.dirname, "../../../../shared/vectors/rfc9162-merkle/testdata/inclusion");

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string | null;
  leafHash: string | null;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function files(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? files(path) : name.endsWith(".json") ? [path] : [];
  });
}

const bytes = (value: string | null) => (value === null ? new Uint8Array() : (decodeBase64(value) ?? new Uint8Array([1])));

function failure(run: () => unknown): VerificationFailure {
  try {
    run();
  } catch (error) {
    if (error instanceof VerificationFailure) return error;
    throw error;
  }
  throw new Error("it verified");
}

const bundle = (): ProofBundle => structuredClone(real);

describe("RFC 9162 inclusion proofs (transparency-dev vectors)", () => {
  const cases = files(VECTORS).map((path) => [path.slice(VECTORS.length + 1), JSON.parse(readFileSync(path, "utf8")) as InclusionVector] as const);

  it("has the vectors, most of them must-fail mutations", () => {
    expect(cases.length).toBeGreaterThan(50);
    expect(cases.filter(([, c]) => c.wantErr).length).toBeGreaterThan(40);
  });

  it.each(cases)("%s", (_, vector) => {
    const run = () =>
      verifyInclusion(
        vector.leafIdx,
        vector.treeSize,
        bytes(vector.leafHash),
        (vector.proof ?? []).map(bytes),
        bytes(vector.root),
      );
    if (vector.wantErr) expect(run).toThrow(VerificationFailure);
    else expect(run).not.toThrow();
  });
});

describe("a proof bundle from the server", () => {
  it("verifies with the key it names, and with that key given out of band", () => {
    const result = verifyBundle(bundle());
    expect(result.leaf.i).toBe(real.index);
    expect(result.checkpoint.size).toBe(real.tree_size);
    expect(result.key.name).toBe("kindred.local/ledger");
    expect(verifyBundle(bundle(), real.verifier_key).leaf.k).toBe("console.fixture");
    expect(checkStates(null)).toEqual({
      format: "passed",
      key: "passed",
      signature: "passed",
      size: "passed",
      inclusion: "passed",
    });
  });

  it("fails at the inclusion proof when the entry is changed", () => {
    const changed = bundle();
    const leaf = JSON.parse(atob(changed.leaf)) as Record<string, unknown>;
    changed.leaf = btoa(JSON.stringify({ ...leaf, k: "console.forged" }));
    const error = failure(() => verifyBundle(changed));
    expect([error.check, error.reason]).toEqual(["inclusion", "root-mismatch"]);
    expect(error.message).toBe("the inclusion proof does not lead to the root hash");
    expect(checkStates(error)).toEqual({
      format: "passed",
      key: "passed",
      signature: "passed",
      size: "passed",
      inclusion: "failed",
    });
  });

  it("fails at the inclusion proof when a proof hash is changed, added or dropped", () => {
    const flipped = bundle();
    const hash = decodeBase64(flipped.inclusion_proof[1] ?? "") ?? new Uint8Array();
    hash[0] = (hash[0] ?? 0) ^ 0x01;
    flipped.inclusion_proof[1] = encodeBase64(hash);
    expect(failure(() => verifyBundle(flipped)).reason).toBe("root-mismatch");
    const dropped = bundle();
    dropped.inclusion_proof.pop();
    expect(failure(() => verifyBundle(dropped)).reason).toBe("proof-too-short");
    const added = bundle();
    added.inclusion_proof.push(added.inclusion_proof[0] ?? "");
    expect(failure(() => verifyBundle(added)).reason).toBe("proof-too-long");
    const moved = bundle();
    moved.index = real.index - 1;
    expect(failure(() => verifyBundle(moved)).check).toBe("inclusion");
  });

  it("fails at the signature when the checkpoint or its signature is changed", () => {
    const root = bundle();
    const lines = root.checkpoint.split("\n");
    const rootHash = decodeBase64(lines[2] ?? "") ?? new Uint8Array();
    rootHash[31] = (rootHash[31] ?? 0) ^ 0x80;
    lines[2] = encodeBase64(rootHash);
    root.checkpoint = lines.join("\n");
    const error = failure(() => verifyBundle(root));
    expect([error.check, error.reason, error.message]).toEqual([
      "signature",
      "bad-signature",
      "the note's signature does not verify",
    ]);
    const signature = bundle();
    const [text, line = ""] = signature.checkpoint.split("\n\n");
    const parts = line.trimEnd().split(" ");
    const raw = decodeBase64(parts[2] ?? "") ?? new Uint8Array();
    raw[10] = (raw[10] ?? 0) ^ 0x01;
    signature.checkpoint = `${text}\n\n${parts[0]} ${parts[1]} ${encodeBase64(raw)}\n`;
    expect(failure(() => verifyBundle(signature)).reason).toBe("bad-signature");
    const unsigned = bundle();
    unsigned.checkpoint = `${text}\n\n`;
    expect(failure(() => verifyBundle(unsigned)).reason).toBe("no-signature-by-key");
  });

  it("fails at the key when the key is another one or damaged", () => {
    const [name, id, ...rest] = real.verifier_key.split("+");
    const key = rest.join("+"); // base64 may hold "+" too
    const raw = decodeBase64(key) ?? new Uint8Array();
    raw[5] = (raw[5] ?? 0) ^ 0x01;
    const other = failure(() => verifyBundle(bundle(), `${name}+${id}+${encodeBase64(raw)}`));
    expect([other.check, other.reason]).toEqual(["key", "key-id-mismatch"]);
    expect(failure(() => verifyBundle(bundle(), "not a key")).reason).toBe("malformed-key");
    // A well-formed key of someone else: the note has no signature by it.
    const stranger = failure(() => verifyBundle(bundle(), `another.example/log+${id}+${key}`));
    expect(stranger.check).toBe("key");
  });

  it("fails at the size when the bundle and checkpoint disagree, and at the format first", () => {
    const size = bundle();
    size.tree_size = real.tree_size + 1;
    const error = failure(() => verifyBundle(size));
    expect([error.check, error.message]).toEqual([
      "size",
      `the proof is for tree size ${real.tree_size + 1}, the checkpoint is for ${real.tree_size}`,
    ]);
    expect(failure(() => verifyBundle({ ...bundle(), format: "other/1" })).reason).toBe("not-a-bundle");
    expect(failure(() => verifyBundle([])).reason).toBe("not-a-bundle");
    expect(failure(() => verifyBundle({ ...bundle(), leaf: "not base64!" })).reason).toBe("malformed-bundle");
    expect(failure(() => verifyBundle({ ...bundle(), index: "3" })).check).toBe("format");
  });
});
