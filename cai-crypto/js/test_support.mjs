// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file Test support for the envelope v1 reference module: NOT shipped, and deliberately
 * not a copy of it. It rebuilds every step of envelope v1 from `docs/ENVELOPE.md` with
 * raw WebCrypto calls, with the salt and nonce as inputs, so that the fixed vectors and
 * the output of `cai-envelope.mjs` can be checked against an independent derivation
 * (the shipped module takes neither a salt nor a nonce from its caller).
 *
 * Named with an underscore so that `node --test cai-crypto/js/` does not run it as a
 * test file (it matches none of Node's `test-*`, `*.test.*` patterns).
 */

const te = new TextEncoder();

/** @param {...Uint8Array} parts */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** @param {number} n @returns {Uint8Array} */
export function u32be(n) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
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

/** Random bytes of any length (getRandomValues takes at most 65536 bytes per call). */
export function randomBytes(/** @type {number} */ n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/** ENVELOPE.md §4: `"cai envelope v1" ‖ 0x01 ‖ key_id ‖ u32be(epoch)`. */
export function hkdfInfo(/** @type {Uint8Array} */ keyId, /** @type {number} */ epoch) {
  return concat(te.encode('cai envelope v1'), Uint8Array.of(0x01), keyId, u32be(epoch));
}

/**
 * ENVELOPE.md §4: the 64 HKDF output bytes, split. Returns the raw subkey bytes, which
 * only a test may see.
 * @returns {Promise<{subkey: Uint8Array, commitment: Uint8Array}>}
 */
export async function deriveOkm(
  /** @type {Uint8Array} */ key,
  /** @type {Uint8Array} */ keyId,
  /** @type {number} */ epoch,
  /** @type {Uint8Array} */ salt,
) {
  const ikm = await crypto.subtle.importKey('raw', key, 'HKDF', false, ['deriveBits']);
  const okm = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt, info: hkdfInfo(keyId, epoch) },
      ikm,
      512,
    ),
  );
  return { subkey: okm.slice(0, 32), commitment: okm.slice(32, 64) };
}

/** ENVELOPE.md §6: `u32be(seq) ‖ random[8]`. */
export function nonceOf(/** @type {number} */ seq, /** @type {Uint8Array} */ random) {
  if (random.length !== 8) throw new TypeError('the random part of a nonce is 8 bytes');
  return concat(u32be(seq), random);
}

/** ENVELOPE.md §3: the 102 header bytes. */
export function encodeHeader(
  /** @type {{keyId: Uint8Array, epoch: number, salt: Uint8Array, commitment: Uint8Array, nonce: Uint8Array}} */ h,
) {
  return concat(
    te.encode('CAIE'),
    Uint8Array.of(0x01, 0x01),
    h.keyId,
    u32be(h.epoch),
    h.salt,
    h.commitment,
    h.nonce,
  );
}

/**
 * ENVELOPE.md §5, for well-formed contexts only (validation is the shipped module's job).
 * @param {{tenant: Uint8Array, session: Uint8Array, item: Uint8Array, version: number, kind: number,
 *   mode?: Uint8Array}} ctx
 */
export function encodeContext(ctx) {
  const id = (/** @type {Uint8Array} */ v) => concat(Uint8Array.of(v.length), v);
  const binding = ctx.mode === undefined ? new Uint8Array(0) : concat(Uint8Array.of(1), ctx.mode);
  return concat(id(ctx.tenant), id(ctx.session), id(ctx.item), u32be(ctx.version), Uint8Array.of(ctx.kind), binding);
}

/**
 * Seals with a given salt and nonce, following ENVELOPE.md step by step, and returns
 * every intermediate value.
 * @param {{key: Uint8Array, keyId: Uint8Array, epoch: number, salt: Uint8Array, nonce: Uint8Array,
 *   context: {tenant: Uint8Array, session: Uint8Array, item: Uint8Array, version: number, kind: number},
 *   plaintext: Uint8Array}} v
 */
export async function sealWith(v) {
  const { subkey, commitment } = await deriveOkm(v.key, v.keyId, v.epoch, v.salt);
  const header = encodeHeader({ ...v, commitment });
  const contextEncoding = encodeContext(v.context);
  const aad = concat(header, contextEncoding);
  const aes = await crypto.subtle.importKey('raw', subkey, 'AES-GCM', false, ['encrypt']);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: v.nonce, additionalData: aad, tagLength: 128 },
      aes,
      v.plaintext,
    ),
  );
  return { subkey, commitment, header, contextEncoding, aad, envelope: concat(header, ct) };
}
