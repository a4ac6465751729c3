// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file Reference implementation of cai envelope v1 with WebCrypto only.
 *
 * Dependency-free; runs unchanged in browsers and in Node.js >= 20 (both expose
 * `globalThis.crypto.subtle`). Every byte array is a `Uint8Array`. The format is
 * specified in `docs/ENVELOPE.md`; the Rust crate `cai-crypto` (module `envelope`)
 * defines it, and `cai-crypto/tests/envelope_webcrypto.rs` checks that the two agree.
 *
 * ```text
 * magic "CAIE" | version 0x01 | suite 0x01 | key_id[16] | epoch u32be | salt[32]
 *   | commitment[32] | nonce[12] | ciphertext | tag[16]
 * ```
 *
 * Exports: the format constants, `CONTENT_KINDS`, `EnvelopeError`, `Sealer`,
 * `sealEnvelope`, `openEnvelope` and `parseHeader`. Nothing else: the test vectors are
 * checked by an independent implementation in `test_support.mjs`, which is not part of
 * this module.
 *
 * @module cai-envelope
 */

/** The four magic bytes that open every envelope ("CAIE"). */
export const MAGIC = Object.freeze([0x43, 0x41, 0x49, 0x45]);
/** Format version. */
export const VERSION = 0x01;
/** Suite 0x01: AES-256-GCM, HKDF-SHA256 subkeys, HKDF-derived 256-bit commitment. */
export const SUITE_AES256GCM_HKDF_SHA256 = 0x01;
/** Data key length. */
export const KEY_LEN = 32;
/** Key id length. */
export const KEY_ID_LEN = 16;
/** Salt length. */
export const SALT_LEN = 32;
/** Commitment length. */
export const COMMITMENT_LEN = 32;
/** AES-GCM nonce length. */
export const NONCE_LEN = 12;
/** AES-GCM tag length. */
export const TAG_LEN = 16;
/** Fixed header length; the header is also the start of the associated data. */
export const HEADER_LEN = 4 + 1 + 1 + KEY_ID_LEN + 4 + SALT_LEN + COMMITMENT_LEN + NONCE_LEN; // 102
/** Bytes an envelope adds to its plaintext. */
export const OVERHEAD = HEADER_LEN + TAG_LEN; // 118
/** Largest plaintext an envelope takes (64 MiB). */
export const MAX_PLAINTEXT_LEN = 64 * 1024 * 1024;
/** Length of the nonce's sequence number; the other 8 nonce bytes are fresh randomness. */
export const NONCE_SEQ_LEN = 4;
/** Items one sealer seals under one subkey before it draws a new salt (2^32). */
export const MAX_SEALS_PER_SUBKEY = 2 ** 32;
/** Plaintext bytes one sealer seals under one subkey before it draws a new salt. */
export const MAX_BYTES_PER_SUBKEY = 2 ** 40;
/** Longest tenant, session or item id, in bytes. */
export const MAX_ID_LEN = 255;
/** Length of a session's mode binding in a context (§5). */
export const MODE_BINDING_LEN = 32;

/** Content kinds and their one-byte wire codes. */
export const CONTENT_KINDS = Object.freeze({
  Message: 1,
  Note: 2,
  File: 3,
  Document: 4,
  Whiteboard: 5,
  Recording: 6,
  KeyMaterial: 7,
});

/**
 * Error thrown by this module. `name` says what failed and matches the Rust
 * `cai_crypto::Error` variant: `Truncated`, `BadMagic`, `UnsupportedVersion`,
 * `UnsupportedSuite`, `TooLarge`, `WrongKey`, `InvalidContext`,
 * `KeyCommitmentMismatch`, `AuthenticationFailed`, `Malformed`; or `Unsupported` when
 * WebCrypto is missing.
 */
export class EnvelopeError extends Error {
  /**
   * @param {string} name Error name (one of the list above).
   * @param {string} message Human-readable detail; never contains secrets.
   */
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

/**
 * An item context, bound into the associated data of its envelope.
 * @typedef {object} ItemContext
 * @property {Uint8Array|string} tenant Tenant id, 1..=255 bytes (strings are UTF-8 encoded).
 * @property {Uint8Array|string} session Session id, 1..=255 bytes.
 * @property {Uint8Array|string} item Item id, 1..=255 bytes.
 * @property {number} version Item version, an integer in 0..=2^32-1.
 * @property {number|string} kind Content kind: a code 1..=7 or a name of {@link CONTENT_KINDS}.
 * @property {Uint8Array} [mode] In a session with a signed mode descriptor: its 32-byte
 *   binding (SHA-256 of the descriptor, after the client accepted it), bound after the kind.
 */

/**
 * The parsed fixed header of an envelope (public values only).
 * @typedef {object} EnvelopeHeader
 * @property {number} suite
 * @property {Uint8Array} keyId 16 bytes.
 * @property {number} epoch u32.
 * @property {Uint8Array} salt 32 bytes.
 * @property {Uint8Array} commitment 32 bytes.
 * @property {Uint8Array} nonce 12 bytes.
 * @property {Uint8Array} headerBytes The 102 header bytes as they appear in the envelope.
 * @property {Uint8Array} body `ciphertext ‖ tag`.
 */

const te = new TextEncoder();
/** HKDF `info` prefix: the ASCII bytes of "cai envelope v1". Not exported: a caller could write to it. */
const LABEL_ENVELOPE = te.encode('cai envelope v1');

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) {
    throw new EnvelopeError('Unsupported', 'WebCrypto (globalThis.crypto.subtle) is not available');
  }
  return s;
}

/** @param {Uint8Array|string} v */
function bytes(v) {
  if (typeof v === 'string') return te.encode(v);
  if (v instanceof Uint8Array) return v;
  throw new TypeError('expected a Uint8Array or a string');
}

/** @param {unknown} v @param {number} len @param {string} what */
function fixed(v, len, what) {
  if (!(v instanceof Uint8Array) || v.length !== len) {
    throw new TypeError(`${what} must be a Uint8Array of ${len} bytes`);
  }
  return v;
}

/** @param {unknown} n @param {string} what */
function u32(n, what) {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new TypeError(`${what} must be an integer in 0..=4294967295`);
  }
  return /** @type {number} */ (n);
}

/** @param {number} n @returns {Uint8Array} */
function u32be(n) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** @param {...Uint8Array} parts */
function concat(...parts) {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Constant-time equality of two byte arrays of the same length (false if lengths
 * differ). Time depends only on the length, never on where the arrays differ.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** @param {number|string} kind @returns {number} */
function kindCode(kind) {
  if (typeof kind === 'string') {
    if (!Object.prototype.hasOwnProperty.call(CONTENT_KINDS, kind)) {
      throw new EnvelopeError('Malformed', `unknown content kind ${kind}`);
    }
    return CONTENT_KINDS[/** @type {keyof typeof CONTENT_KINDS} */ (kind)];
  }
  if (!Number.isInteger(kind) || kind < 1 || kind > 7) {
    throw new EnvelopeError('Malformed', 'unknown content kind code');
  }
  return kind;
}

/**
 * The canonical context encoding:
 * `len(tenant) tenant len(session) session len(item) item version:u32be kind:u8`,
 * each `len` one byte, each id 1..=255 bytes; then, with a mode binding, `0x01 ‖ binding`.
 * @param {ItemContext} ctx
 * @returns {Uint8Array}
 * @throws {EnvelopeError} `InvalidContext` for an empty or too long id or a binding that is
 *   not 32 bytes, `Malformed` for an unknown kind.
 */
function encodeContext(ctx) {
  const parts = [];
  for (const field of /** @type {const} */ (['tenant', 'session', 'item'])) {
    const v = bytes(ctx[field]);
    if (v.length < 1 || v.length > MAX_ID_LEN) {
      throw new EnvelopeError(
        'InvalidContext',
        `invalid context field ${field}: length ${v.length} not in 1..=${MAX_ID_LEN}`,
      );
    }
    parts.push(Uint8Array.of(v.length), v);
  }
  parts.push(u32be(u32(ctx.version, 'version')), Uint8Array.of(kindCode(ctx.kind)));
  if (ctx.mode !== undefined && ctx.mode !== null) {
    if (!(ctx.mode instanceof Uint8Array) || ctx.mode.length !== MODE_BINDING_LEN) {
      throw new EnvelopeError(
        'InvalidContext',
        `invalid context field mode: a binding is ${MODE_BINDING_LEN} bytes`,
      );
    }
    parts.push(Uint8Array.of(0x01), ctx.mode);
  }
  return concat(...parts);
}

/**
 * The HKDF `info` for a key: `"cai envelope v1" ‖ suite ‖ key_id ‖ epoch:u32be` (36 bytes).
 * @param {Uint8Array} keyId
 * @param {number} epoch
 */
function hkdfInfo(keyId, epoch) {
  return concat(LABEL_ENVELOPE, Uint8Array.of(SUITE_AES256GCM_HKDF_SHA256), keyId, u32be(epoch));
}

/**
 * The data key as a non-extractable HKDF key, so that a sealer keeps no raw key bytes.
 * @param {Uint8Array} keyBytes 32-byte data key.
 * @returns {Promise<CryptoKey>}
 */
function importDataKey(keyBytes) {
  fixed(keyBytes, KEY_LEN, 'key');
  return subtle().importKey('raw', keyBytes, 'HKDF', false, ['deriveBits']);
}

/**
 * Derives the subkey and commitment for `(data key, salt)`:
 * `subkey ‖ commitment = HKDF-SHA256(ikm = key, salt, info, L = 64)`.
 * @param {CryptoKey} ikm The data key from {@link importDataKey}.
 * @param {Uint8Array} keyId 16-byte key id.
 * @param {number} epoch u32 key epoch.
 * @param {Uint8Array} salt 32-byte salt.
 * @returns {Promise<{salt: Uint8Array, subkey: CryptoKey, commitment: Uint8Array}>}
 */
async function deriveSubkey(ikm, keyId, epoch, salt) {
  const s = subtle();
  const okm = new Uint8Array(
    await s.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt, info: hkdfInfo(keyId, epoch) },
      ikm,
      512,
    ),
  );
  const commitment = okm.slice(32, 64);
  try {
    const subkey = await s.importKey('raw', okm.subarray(0, 32), { name: 'AES-GCM' }, false, [
      'encrypt',
      'decrypt',
    ]);
    return { salt, subkey, commitment };
  } finally {
    okm.fill(0);
  }
}

/**
 * The nonce for sequence number `seq`: `seq` as u32 big-endian, then 8 bytes from
 * `crypto.getRandomValues`, drawn for this item.
 * @param {number} seq 0 <= seq < 2^32.
 */
function nonceFor(seq) {
  const out = new Uint8Array(NONCE_LEN);
  new DataView(out.buffer).setUint32(0, seq, false);
  globalThis.crypto.getRandomValues(out.subarray(NONCE_SEQ_LEN));
  return out;
}

/**
 * The 102 header bytes.
 * @param {{keyId: Uint8Array, epoch: number, salt: Uint8Array, commitment: Uint8Array, nonce: Uint8Array}} h
 */
function encodeHeader(h) {
  return concat(
    Uint8Array.from(MAGIC),
    Uint8Array.of(VERSION, SUITE_AES256GCM_HKDF_SHA256),
    h.keyId,
    u32be(h.epoch),
    h.salt,
    h.commitment,
    h.nonce,
  );
}

/**
 * Parses the fixed header, checking length, magic, version and suite, exactly as the
 * Rust `EnvelopeHeader::parse`.
 * @param {Uint8Array} envelope
 * @returns {EnvelopeHeader}
 * @throws {EnvelopeError} `Truncated`, `BadMagic`, `UnsupportedVersion`, `UnsupportedSuite`.
 */
export function parseHeader(envelope) {
  if (!(envelope instanceof Uint8Array)) throw new TypeError('envelope must be a Uint8Array');
  const magicOk = () => MAGIC.every((b, i) => envelope[i] === b);
  if (envelope.length < OVERHEAD) {
    if (envelope.length >= 4 && !magicOk()) {
      throw new EnvelopeError('BadMagic', 'not an envelope: unknown magic bytes');
    }
    throw new EnvelopeError(
      'Truncated',
      `envelope is truncated: needs at least ${OVERHEAD} bytes, got ${envelope.length}`,
    );
  }
  if (!magicOk()) throw new EnvelopeError('BadMagic', 'not an envelope: unknown magic bytes');
  if (envelope[4] !== VERSION) {
    throw new EnvelopeError('UnsupportedVersion', `unsupported envelope version ${envelope[4]}`);
  }
  if (envelope[5] !== SUITE_AES256GCM_HKDF_SHA256) {
    throw new EnvelopeError('UnsupportedSuite', `unsupported algorithm suite ${envelope[5]}`);
  }
  const view = new DataView(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  return {
    suite: envelope[5],
    keyId: envelope.slice(6, 22),
    epoch: view.getUint32(22, false),
    salt: envelope.slice(26, 58),
    commitment: envelope.slice(58, 90),
    nonce: envelope.slice(90, 102),
    headerBytes: envelope.subarray(0, HEADER_LEN),
    body: envelope.subarray(HEADER_LEN),
  };
}

/** Guards the `Sealer` constructor: only {@link Sealer.create} holds it. */
const CREATE = Symbol('Sealer.create');

/**
 * Seals envelopes under one data key, the same scheme as the Rust `envelope::Sealer`:
 * one subkey per random 256-bit salt, and for the `i`-th item under it the nonce
 * `u32be(i) ‖ 8 fresh random bytes`. The sequence number keeps nonces distinct within
 * the sealer; the random part keeps a copy of its state (a JS heap or VM snapshot
 * restored more than once) from repeating the original's nonces. After
 * {@link MAX_SEALS_PER_SUBKEY} items or {@link MAX_BYTES_PER_SUBKEY} bytes it moves to a
 * new salt. The raw data key is not kept: the sealer holds it as a non-extractable
 * `CryptoKey`.
 */
export class Sealer {
  /** @type {CryptoKey} */ #ikm;
  /** @type {Uint8Array} */ #keyId;
  /** @type {number} */ #epoch;
  /** @type {{salt: Uint8Array, subkey: CryptoKey, commitment: Uint8Array}} */ #sub;
  #seq = 0;
  #bytes = 0;

  /**
   * Not for callers: use {@link Sealer.create}.
   * @param {symbol} token
   * @param {CryptoKey} ikm
   * @param {Uint8Array} keyId
   * @param {number} epoch
   * @param {{salt: Uint8Array, subkey: CryptoKey, commitment: Uint8Array}} sub
   */
  constructor(token, ikm, keyId, epoch, sub) {
    if (token !== CREATE) throw new TypeError('use Sealer.create()');
    this.#ikm = ikm;
    this.#keyId = keyId;
    this.#epoch = epoch;
    this.#sub = sub;
  }

  /**
   * A sealer with a fresh random 256-bit salt.
   * @param {Uint8Array} keyBytes 32-byte data key.
   * @param {Uint8Array} keyId 16-byte key id.
   * @param {number} epoch u32 key epoch.
   * @returns {Promise<Sealer>}
   */
  static async create(keyBytes, keyId, epoch) {
    fixed(keyId, KEY_ID_LEN, 'keyId');
    u32(epoch, 'epoch');
    const ikm = await importDataKey(keyBytes);
    const id = keyId.slice();
    return new Sealer(CREATE, ikm, id, epoch, await Sealer.#freshSubkey(ikm, id, epoch));
  }

  /**
   * @param {CryptoKey} ikm
   * @param {Uint8Array} keyId
   * @param {number} epoch
   */
  static #freshSubkey(ikm, keyId, epoch) {
    const salt = globalThis.crypto.getRandomValues(new Uint8Array(SALT_LEN));
    return deriveSubkey(ikm, keyId, epoch, salt);
  }

  /** The id of the data key this sealer seals under. */
  get keyId() {
    return this.#keyId.slice();
  }

  /** The epoch of the data key this sealer seals under. */
  get epoch() {
    return this.#epoch;
  }

  /**
   * Seals `plaintext` for `ctx` into a new envelope.
   * @param {ItemContext} ctx
   * @param {Uint8Array} plaintext At most {@link MAX_PLAINTEXT_LEN} bytes.
   * @returns {Promise<Uint8Array>}
   */
  async seal(ctx, plaintext) {
    if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array');
    if (plaintext.length > MAX_PLAINTEXT_LEN) {
      throw new EnvelopeError('TooLarge', `envelope plaintext is too large: ${plaintext.length} bytes`);
    }
    const encodedCtx = encodeContext(ctx);
    if (
      this.#seq >= MAX_SEALS_PER_SUBKEY ||
      this.#bytes + plaintext.length > MAX_BYTES_PER_SUBKEY
    ) {
      const fresh = await Sealer.#freshSubkey(this.#ikm, this.#keyId, this.#epoch);
      // Another seal() may have moved on while this one awaited; a new subkey with its
      // own sequence from 0 is right either way.
      this.#sub = fresh;
      this.#seq = 0;
      this.#bytes = 0;
    }
    // Take subkey and sequence number with no await in between, so that concurrent
    // seal() calls never share a (subkey, sequence number) pair.
    const { salt, subkey, commitment } = this.#sub;
    const nonce = nonceFor(this.#seq);
    this.#seq += 1;
    this.#bytes += plaintext.length;
    const header = encodeHeader({ keyId: this.#keyId, epoch: this.#epoch, salt, commitment, nonce });
    const aad = concat(header, encodedCtx);
    const ct = new Uint8Array(
      await subtle().encrypt(
        { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 },
        subkey,
        plaintext,
      ),
    );
    return concat(header, ct);
  }
}

/**
 * Seals one item under a fresh subkey (random salt, sequence number 0).
 * @param {Uint8Array} keyBytes 32-byte data key.
 * @param {Uint8Array} keyId 16-byte key id.
 * @param {number} epoch u32 key epoch.
 * @param {ItemContext} ctx
 * @param {Uint8Array} plaintext
 * @returns {Promise<Uint8Array>}
 */
export async function sealEnvelope(keyBytes, keyId, epoch, ctx, plaintext) {
  const sealer = await Sealer.create(keyBytes, keyId, epoch);
  return sealer.seal(ctx, plaintext);
}

/**
 * Opens an envelope. Checks, in this order (as the Rust `envelope::open`):
 * structure (`Truncated`, `BadMagic`, `UnsupportedVersion`, `UnsupportedSuite`,
 * `TooLarge`), key id and epoch (`WrongKey`), context (`InvalidContext`), key commitment
 * in constant time (`KeyCommitmentMismatch`), then the AES-GCM tag
 * (`AuthenticationFailed`). No plaintext is returned unless all pass.
 * @param {Uint8Array} keyBytes 32-byte data key.
 * @param {Uint8Array} keyId 16-byte id of that key.
 * @param {number} epoch u32 epoch of that key.
 * @param {ItemContext} ctx The context the item is expected to have.
 * @param {Uint8Array} envelope
 * @returns {Promise<Uint8Array>} The plaintext.
 * @throws {EnvelopeError}
 */
export async function openEnvelope(keyBytes, keyId, epoch, ctx, envelope) {
  fixed(keyBytes, KEY_LEN, 'key');
  fixed(keyId, KEY_ID_LEN, 'keyId');
  u32(epoch, 'epoch');
  const h = parseHeader(envelope);
  const ctLen = h.body.length - TAG_LEN;
  if (ctLen > MAX_PLAINTEXT_LEN) {
    throw new EnvelopeError('TooLarge', `envelope ciphertext is too large: ${ctLen} bytes`);
  }
  if (!constantTimeEqual(h.keyId, keyId) || h.epoch !== epoch) {
    throw new EnvelopeError('WrongKey', 'ciphertext was sealed under another key id or epoch');
  }
  const aad = concat(h.headerBytes, encodeContext(ctx));
  const d = await deriveSubkey(await importDataKey(keyBytes), keyId, epoch, h.salt);
  if (!constantTimeEqual(d.commitment, h.commitment)) {
    throw new EnvelopeError('KeyCommitmentMismatch', 'ciphertext was not made with this key');
  }
  try {
    const pt = await subtle().decrypt(
      { name: 'AES-GCM', iv: h.nonce, additionalData: aad, tagLength: 128 },
      d.subkey,
      h.body,
    );
    return new Uint8Array(pt);
  } catch {
    throw new EnvelopeError(
      'AuthenticationFailed',
      'authentication failed: ciphertext, header or context was altered',
    );
  }
}
