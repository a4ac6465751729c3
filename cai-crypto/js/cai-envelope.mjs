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
/** Items one sealer seals under one subkey before it draws a new salt (2^32). */
export const MAX_SEALS_PER_SUBKEY = 2 ** 32;
/** Plaintext bytes one sealer seals under one subkey before it draws a new salt. */
export const MAX_BYTES_PER_SUBKEY = 2 ** 40;
/** Longest tenant, session or item id, in bytes. */
export const MAX_ID_LEN = 255;
/** HKDF `info` prefix: the ASCII bytes of "cai envelope v1". */
export const LABEL_ENVELOPE = new TextEncoder().encode('cai envelope v1');

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
 * `KeyCommitmentMismatch`, `AuthenticationFailed`, `Malformed`, `LimitExceeded`.
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
export function constantTimeEqual(a, b) {
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
 * each `len` one byte, each id 1..=255 bytes.
 * @param {ItemContext} ctx
 * @returns {Uint8Array}
 * @throws {EnvelopeError} `InvalidContext` for an empty or too long id, `Malformed` for an unknown kind.
 */
export function encodeContext(ctx) {
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
  return concat(...parts);
}

/**
 * The HKDF `info` for a key: `"cai envelope v1" ‖ suite ‖ key_id ‖ epoch:u32be` (36 bytes).
 * @param {Uint8Array} keyId
 * @param {number} epoch
 */
export function hkdfInfo(keyId, epoch) {
  return concat(LABEL_ENVELOPE, Uint8Array.of(SUITE_AES256GCM_HKDF_SHA256), keyId, u32be(epoch));
}

/**
 * Derives the subkey and commitment for `(data key, salt)`:
 * `subkey ‖ commitment = HKDF-SHA256(ikm = key, salt, info, L = 64)`.
 * @param {Uint8Array} keyBytes 32-byte data key.
 * @param {Uint8Array} keyId 16-byte key id.
 * @param {number} epoch u32 key epoch.
 * @param {Uint8Array} salt 32-byte salt.
 * @returns {Promise<{subkey: CryptoKey, subkeyBytes: Uint8Array, commitment: Uint8Array}>}
 *   `subkeyBytes` is exposed for test vectors; production code only needs `subkey`.
 */
export async function deriveSubkey(keyBytes, keyId, epoch, salt) {
  fixed(keyBytes, KEY_LEN, 'key');
  fixed(keyId, KEY_ID_LEN, 'keyId');
  fixed(salt, SALT_LEN, 'salt');
  u32(epoch, 'epoch');
  const s = subtle();
  const ikm = await s.importKey('raw', keyBytes, 'HKDF', false, ['deriveBits']);
  const okm = new Uint8Array(
    await s.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt, info: hkdfInfo(keyId, epoch) },
      ikm,
      512,
    ),
  );
  const subkeyBytes = okm.slice(0, 32);
  const commitment = okm.slice(32, 64);
  okm.fill(0);
  const subkey = await s.importKey('raw', subkeyBytes, { name: 'AES-GCM' }, false, [
    'encrypt',
    'decrypt',
  ]);
  return { subkey, subkeyBytes, commitment };
}

/**
 * The nonce for counter value `n`: four zero bytes then `n` as u64 big-endian.
 * @param {number|bigint} n 0 <= n < 2^32.
 */
export function counterNonce(n) {
  const big = BigInt(n);
  if (big < 0n || big >= BigInt(MAX_SEALS_PER_SUBKEY)) {
    throw new EnvelopeError('LimitExceeded', 'nonce counter out of range');
  }
  const out = new Uint8Array(NONCE_LEN);
  new DataView(out.buffer).setBigUint64(4, big, false);
  return out;
}

/**
 * The 102 header bytes.
 * @param {{keyId: Uint8Array, epoch: number, salt: Uint8Array, commitment: Uint8Array, nonce: Uint8Array}} h
 */
export function encodeHeader(h) {
  return concat(
    Uint8Array.from(MAGIC),
    Uint8Array.of(VERSION, SUITE_AES256GCM_HKDF_SHA256),
    fixed(h.keyId, KEY_ID_LEN, 'keyId'),
    u32be(u32(h.epoch, 'epoch')),
    fixed(h.salt, SALT_LEN, 'salt'),
    fixed(h.commitment, COMMITMENT_LEN, 'commitment'),
    fixed(h.nonce, NONCE_LEN, 'nonce'),
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

/**
 * Seals envelopes under one data key with one subkey (random salt) and counter nonces
 * 0, 1, 2, … — the same scheme as the Rust `envelope::Sealer`. Never copy a sealer's
 * state: two sealers with the same salt and counter would reuse nonces.
 */
export class Sealer {
  /**
   * Use {@link Sealer.create}.
   * @param {Uint8Array} keyBytes
   * @param {Uint8Array} keyId
   * @param {number} epoch
   * @param {{salt: Uint8Array, subkey: CryptoKey, commitment: Uint8Array}} sub
   * @param {number} nextNonce
   * @param {boolean} fixedSalt
   */
  constructor(keyBytes, keyId, epoch, sub, nextNonce, fixedSalt) {
    /** @private */ this.keyBytes = keyBytes.slice();
    /** @readonly */ this.keyId = keyId.slice();
    /** @readonly */ this.epoch = epoch;
    /** @private */ this.sub = sub;
    /** @private */ this.nextNonce = nextNonce;
    /** @private */ this.bytesSealed = 0;
    /** @private */ this.fixedSalt = fixedSalt;
  }

  /**
   * A sealer with a fresh random 256-bit salt.
   * @param {Uint8Array} keyBytes 32-byte data key.
   * @param {Uint8Array} keyId 16-byte key id.
   * @param {number} epoch u32 key epoch.
   * @param {{salt?: Uint8Array, nonceCounter?: number}} [opts] For test vectors only:
   *   a fixed salt and first nonce counter. Production code passes nothing.
   * @returns {Promise<Sealer>}
   */
  static async create(keyBytes, keyId, epoch, opts = {}) {
    const salt = opts.salt
      ? fixed(opts.salt, SALT_LEN, 'salt').slice()
      : globalThis.crypto.getRandomValues(new Uint8Array(SALT_LEN));
    const d = await deriveSubkey(keyBytes, keyId, epoch, salt);
    d.subkeyBytes.fill(0);
    const counter = opts.nonceCounter ?? 0;
    counterNonce(counter); // range check
    return new Sealer(
      keyBytes,
      keyId,
      epoch,
      { salt, subkey: d.subkey, commitment: d.commitment },
      counter,
      Boolean(opts.salt),
    );
  }

  /** The salt of the current subkey. */
  get salt() {
    return this.sub.salt.slice();
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
      this.nextNonce >= MAX_SEALS_PER_SUBKEY ||
      this.bytesSealed + plaintext.length > MAX_BYTES_PER_SUBKEY
    ) {
      if (this.fixedSalt) throw new EnvelopeError('LimitExceeded', 'seals per fixed-salt subkey');
      const fresh = await Sealer.create(this.keyBytes, this.keyId, this.epoch);
      this.sub = fresh.sub;
      this.nextNonce = 0;
      this.bytesSealed = 0;
    }
    // Take the nonce before the first await so that concurrent seal() calls never share one.
    const nonce = counterNonce(this.nextNonce);
    this.nextNonce += 1;
    this.bytesSealed += plaintext.length;
    const { salt, subkey, commitment } = this.sub;
    const header = encodeHeader({ keyId: this.keyId, epoch: this.epoch, salt, commitment, nonce });
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
 * Seals one item under a fresh subkey (random salt, nonce counter 0).
 * @param {Uint8Array} keyBytes 32-byte data key.
 * @param {Uint8Array} keyId 16-byte key id.
 * @param {number} epoch u32 key epoch.
 * @param {ItemContext} ctx
 * @param {Uint8Array} plaintext
 * @param {{salt?: Uint8Array, nonceCounter?: number}} [opts] Test vectors only.
 * @returns {Promise<Uint8Array>}
 */
export async function sealEnvelope(keyBytes, keyId, epoch, ctx, plaintext, opts = {}) {
  const sealer = await Sealer.create(keyBytes, keyId, epoch, opts);
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
  const d = await deriveSubkey(keyBytes, keyId, epoch, h.salt);
  d.subkeyBytes.fill(0);
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

/** @param {Uint8Array} b @returns {string} lowercase hex */
export function toHex(b) {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** @param {string} s hex (even length) @returns {Uint8Array} */
export function fromHex(s) {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new TypeError('invalid hex');
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
