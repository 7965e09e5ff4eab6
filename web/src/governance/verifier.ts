/**
 * The offline verifier of a ledger proof bundle, in the browser: the same algorithm, in the
 * same order, as `kindred ledger verify-bundle` (src/kindred/ledger/verifier.py, note.py,
 * merkle.py) — no server involved once the file is here.
 *
 *   1. format   the file is a `kindred-ledger-bundle/1` bundle with well-formed values;
 *   2. key      the verifier key (C2SP form `name+keyid+base64(0x01 || key)`) is an Ed25519
 *               key whose id matches its name and key;
 *   3. signature the checkpoint (a C2SP signed note) carries a valid Ed25519 signature by
 *               that key over its text, and the text is a checkpoint (origin, size, root);
 *   4. size     the bundle's tree size is the checkpoint's;
 *   5. inclusion the RFC 9162 §2.1.3.2 inclusion proof of SHA-256(0x00 || leaf) leads to the
 *               checkpoint's root.
 *
 * Hashing and signatures come from audited libraries (@noble/hashes sha256, @noble/curves
 * ed25519 with RFC 8032's strict checks, as the server's OpenSSL does); only the RFC's proof
 * walk is written here. Every failure names its step and a reason code the UI translates.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";

export const BUNDLE_FORMAT = "kindred-ledger-bundle/1";
const HASH_SIZE = 32;
const ED25519_TYPE = 0x01;
const DASH = "\u2014";

export const CHECKS = ["format", "key", "signature", "size", "inclusion"] as const;
export type Check = (typeof CHECKS)[number];

export type Reason =
  | "not-a-bundle"
  | "malformed-bundle"
  | "malformed-key"
  | "unsupported-key"
  | "key-id-mismatch"
  | "not-a-signed-note"
  | "control-characters"
  | "malformed-signature-line"
  | "no-signature-by-key"
  | "bad-signature"
  | "malformed-checkpoint"
  | "size-mismatch"
  | "index-outside-tree"
  | "bad-hash-length"
  | "proof-too-long"
  | "proof-too-short"
  | "root-mismatch";

export class VerificationFailure extends Error {
  readonly check: Check;
  readonly reason: Reason;
  readonly values: Record<string, string | number>;

  constructor(check: Check, reason: Reason, message: string, values: Record<string, string | number> = {}) {
    super(message);
    this.name = "VerificationFailure";
    this.check = check;
    this.reason = reason;
    this.values = values;
  }
}

export interface ProofBundle {
  format: string;
  index: number;
  tree_size: number;
  leaf: string;
  inclusion_proof: string[];
  checkpoint: string;
  verifier_key?: string;
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
}

export interface VerifierKey {
  name: string;
  keyId: Uint8Array;
  publicKey: Uint8Array;
}

export interface Verified {
  /** The parsed leaf: {v, i, k, s, c, at}. */
  leaf: Record<string, unknown>;
  checkpoint: Checkpoint;
  key: VerifierKey;
}

// -- bytes -----------------------------------------------------------------------------------

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64, strictly (as Python's b64decode(validate=True)); null when invalid. */
export function decodeBase64(text: string): Uint8Array | null {
  if (!BASE64.test(text)) return null;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

const utf8 = new TextEncoder();

// -- RFC 9162 Merkle hashing and the inclusion proof --------------------------------------

export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(concat(Uint8Array.of(0x00), data));
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concat(Uint8Array.of(0x01), left, right));
}

function inclusionFailure(reason: Reason, message: string): VerificationFailure {
  return new VerificationFailure("inclusion", reason, message);
}

/** RFC 9162 §2.1.3.2: throws unless `leaf` (a leaf hash) is at `index` under `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  if (index < 0 || size < 0 || index >= size) {
    throw inclusionFailure("index-outside-tree", `leaf index ${index} is outside a tree of size ${size}`);
  }
  if ([leaf, root, ...proof].some((hash) => hash.length !== HASH_SIZE)) {
    throw inclusionFailure("bad-hash-length", "every hash in a proof is 32 bytes");
  }
  // BigInt: the walk shifts indexes that may exceed 32 bits.
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw inclusionFailure("proof-too-long", "the inclusion proof is longer than the tree is deep");
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while (fn !== 0n && (fn & 1n) === 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw inclusionFailure("proof-too-short", "the inclusion proof is too short for the tree size");
  if (!equal(r, root)) throw inclusionFailure("root-mismatch", "the inclusion proof does not lead to the root hash");
}

// -- C2SP signed notes and checkpoints ----------------------------------------------------

export function keyId(name: string, publicKey: Uint8Array): Uint8Array {
  return sha256(concat(utf8.encode(name), Uint8Array.of(0x0a, ED25519_TYPE), publicKey)).slice(0, 4);
}

/** `name+hex(key id)+base64(0x01 || key)` → the key; throws a "key" failure otherwise. */
export function parseVerifierKey(text: string): VerifierKey {
  const trimmed = text.trim();
  const first = trimmed.indexOf("+");
  const second = first < 0 ? -1 : trimmed.indexOf("+", first + 1);
  if (first < 0 || second < 0) {
    throw new VerificationFailure("key", "malformed-key", "a verifier key looks like name+keyid+base64key");
  }
  const name = trimmed.slice(0, first);
  const hexId = trimmed.slice(first + 1, second);
  const raw = decodeBase64(trimmed.slice(second + 1));
  if (raw === null || !/^([0-9a-fA-F]{2})*$/.test(hexId)) {
    throw new VerificationFailure("key", "malformed-key", "the verifier key is not valid hex/base64");
  }
  if (raw.length !== 33 || raw[0] !== ED25519_TYPE) {
    throw new VerificationFailure("key", "unsupported-key", "only Ed25519 verifier keys (type 0x01) are supported");
  }
  const identifier = Uint8Array.from(hexId.match(/../g) ?? [], (pair) => parseInt(pair, 16));
  const publicKey = raw.slice(1);
  if (identifier.length !== 4 || !equal(keyId(name, publicKey), identifier)) {
    throw new VerificationFailure("key", "key-id-mismatch", "the verifier key's id does not match its name and key");
  }
  return { name, keyId: identifier, publicKey };
}

function noteFailure(reason: Reason, message: string): VerificationFailure {
  return new VerificationFailure("signature", reason, message);
}

/** The note text if `key` signed it (RFC 8032 strict Ed25519); throws otherwise. */
export function openNote(signed: string, key: VerifierKey): string {
  const split = signed.lastIndexOf("\n\n");
  if (split < 0) throw noteFailure("not-a-signed-note", "not a signed note: no blank line before the signatures");
  const text = signed.slice(0, split + 1);
  const signatures = signed.slice(split + 2);
  // Control characters other than the newline (U+0000–U+001F) are refused.
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u0009\u000b-\u001f]/.test(signed)) {
    throw noteFailure("control-characters", "signed notes must not contain control characters");
  }
  const lines = signatures.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let found = false;
  for (const line of lines) {
    const prefix = `${DASH} `;
    const parts = line.startsWith(prefix) ? line.slice(prefix.length).split(" ") : [];
    const raw = parts.length === 2 ? decodeBase64(parts[1] ?? "") : null;
    if (raw === null) throw noteFailure("malformed-signature-line", `malformed signature line: ${line.slice(0, 40)}`);
    if (parts[0] !== key.name || !equal(raw.slice(0, 4), key.keyId)) continue; // unknown keys are ignored
    let valid: boolean;
    try {
      valid = ed25519.verify(raw.slice(4), utf8.encode(text), key.publicKey, { zip215: false });
    } catch {
      valid = false; // a signature of the wrong length
    }
    if (!valid) throw noteFailure("bad-signature", "the note's signature does not verify");
    found = true;
  }
  if (!found) throw noteFailure("no-signature-by-key", `the note carries no signature by ${key.name}`);
  return text;
}

export function parseCheckpoint(text: string): Checkpoint {
  const bad = (message: string) => new VerificationFailure("signature", "malformed-checkpoint", message);
  const lines = text.split("\n");
  if (lines.length < 4 || lines.at(-1) !== "") throw bad("a checkpoint has an origin, a size and a root hash line");
  const [origin = "", sizeText = "", rootText = ""] = lines;
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(sizeText)) throw bad("malformed checkpoint origin or size");
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw bad("malformed checkpoint origin or size");
  const root = decodeBase64(rootText);
  if (root === null) throw bad("malformed checkpoint root hash");
  if (root.length !== HASH_SIZE) throw bad("the checkpoint root hash must be 32 bytes");
  return { origin, size, root };
}

// -- the bundle ---------------------------------------------------------------------------

function malformed(message: string): VerificationFailure {
  return new VerificationFailure("format", "malformed-bundle", `malformed bundle: ${message}`);
}

function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

/** The bundle's values, checked for shape (step 1). */
export function readBundle(value: unknown): ProofBundle & { leafBytes: Uint8Array; proof: Uint8Array[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new VerificationFailure("format", "not-a-bundle", `not a ${BUNDLE_FORMAT} bundle`);
  }
  const bundle = value as Record<string, unknown>;
  if (bundle.format !== BUNDLE_FORMAT) {
    throw new VerificationFailure("format", "not-a-bundle", `not a ${BUNDLE_FORMAT} bundle`);
  }
  const { index, tree_size: size, leaf, inclusion_proof: proof, checkpoint } = bundle;
  if (!isIndex(index)) throw malformed("index");
  if (!isIndex(size)) throw malformed("tree_size");
  if (typeof checkpoint !== "string") throw malformed("checkpoint");
  const leafBytes = typeof leaf === "string" ? decodeBase64(leaf) : null;
  if (leafBytes === null) throw malformed("leaf");
  if (!Array.isArray(proof)) throw malformed("inclusion_proof");
  const hashes = proof.map((p) => (typeof p === "string" ? decodeBase64(p) : null));
  if (hashes.some((h) => h === null)) throw malformed("inclusion_proof");
  return {
    format: BUNDLE_FORMAT,
    index,
    tree_size: size,
    leaf: leaf as string,
    inclusion_proof: proof as string[],
    checkpoint,
    verifier_key: typeof bundle.verifier_key === "string" ? bundle.verifier_key : undefined,
    leafBytes,
    proof: hashes as Uint8Array[],
  };
}

/**
 * Verify a bundle (parsed JSON) against a verifier key: `key` when given (one held out of
 * band), else the bundle's own `verifier_key`. Returns the parsed leaf; throws a
 * VerificationFailure naming the first check that failed.
 */
export function verifyBundle(value: unknown, key?: string): Verified {
  const bundle = readBundle(value);
  const keyText = key ?? bundle.verifier_key;
  if (keyText === undefined || keyText.trim() === "") {
    throw new VerificationFailure("key", "malformed-key", "no verifier key: the bundle names none and none was given");
  }
  const verifier = parseVerifierKey(keyText);
  const checkpoint = parseCheckpoint(openNote(bundle.checkpoint, verifier));
  if (bundle.tree_size !== checkpoint.size) {
    throw new VerificationFailure(
      "size",
      "size-mismatch",
      `the proof is for tree size ${bundle.tree_size}, the checkpoint is for ${checkpoint.size}`,
      { bundle: bundle.tree_size, checkpoint: checkpoint.size },
    );
  }
  verifyInclusion(bundle.index, checkpoint.size, leafHash(bundle.leafBytes), bundle.proof, checkpoint.root);
  let leaf: unknown;
  try {
    leaf = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bundle.leafBytes));
  } catch {
    throw malformed("the leaf is not JSON");
  }
  if (typeof leaf !== "object" || leaf === null || Array.isArray(leaf)) throw malformed("the leaf is not a JSON object");
  return { leaf: leaf as Record<string, unknown>, checkpoint, key: verifier };
}

/** The outcome of each check, for display: passed up to the failure, then not run. */
export type CheckState = "passed" | "failed" | "not-run";

export function checkStates(failure: VerificationFailure | null): Record<Check, CheckState> {
  const states = {} as Record<Check, CheckState>;
  let failedAt = failure ? CHECKS.indexOf(failure.check) : CHECKS.length;
  if (failedAt < 0) failedAt = 0;
  CHECKS.forEach((check, i) => {
    states[check] = i < failedAt ? "passed" : i === failedAt ? "failed" : "not-run";
  });
  return states;
}
