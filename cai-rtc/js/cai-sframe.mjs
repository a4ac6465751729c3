// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file SFrame (RFC 9605) media-frame encryption for cai calls, with WebCrypto only.
 *
 * Dependency-free; runs unchanged in browsers (main thread and workers, e.g. inside an
 * `RTCRtpScriptTransform`) and in Node.js >= 20. It produces the frames the Rust
 * `cai_crypto::sframe::FrameDecryptor` opens and opens the frames `FrameEncryptor`
 * produces. The format is specified in `docs/SFRAME.md`:
 *
 * - suites `AES_256_GCM_SHA512_128` (0x0005, cai's default) and `AES_128_GCM_SHA256_128`
 *   (0x0004); the CTR/HMAC suites are refused;
 * - KID = epoch << 16 | sender_index (§2); a header per RFC 9605 §4.3;
 * - `base_key = HKDF-SHA256(salt = "", IKM = media_secret, info = "cai sframe v1" ‖
 *   suite u16be ‖ KID u64be, 32)` (§3), then RFC 9605 §4.4.2 (`sframe_key`,
 *   `sframe_salt`), nonce = salt XOR counter, AAD = header ‖ metadata;
 * - outside end-to-end mode the per-sender media secret comes from the session's data key
 *   and the call's id (`admitted.call`, §3a): `prk = HKDF-Extract-SHA256(salt =
 *   "cai sframe session media v2", IKM = DEK)`, `media_secret = HKDF-Expand(prk,
 *   session_id ‖ 0x00 ‖ call_id (16 bytes) ‖ u32be(epoch) ‖ u16be(sender_index), 32)`
 *   ({@link sessionMediaSecret}).
 *
 * Keys never leave WebCrypto as bytes once derived: `sframe_key` is a non-extractable
 * AES-GCM `CryptoKey`; the intermediate secrets are zeroed as soon as they are imported.
 * Counters are `BigInt`s (numbers lose precision above 2^53).
 *
 * @module cai-sframe
 */

/** Suite `AES_256_GCM_SHA512_128`: cai's default. */
export const SUITE_AES_256_GCM_SHA512_128 = 0x0005;
/** Suite `AES_128_GCM_SHA256_128`. */
export const SUITE_AES_128_GCM_SHA256_128 = 0x0004;
/** AES-GCM tag length of both suites. */
export const TAG_LEN = 16;
/** Longest SFrame header: config byte, 8 KID bytes, 8 counter bytes. */
export const MAX_HEADER_LEN = 17;
/** Largest frame (and metadata) accepted, as in Rust (`MAX_FRAME_LEN`, 16 MiB). */
export const MAX_FRAME_LEN = 16 * 1024 * 1024;
/** Frames of replay window per KID, as in Rust (`DEFAULT_REPLAY_WINDOW`). */
export const DEFAULT_REPLAY_WINDOW = 128;
/** Largest KID cai produces: epoch (u32) and sender index (u16) fill 48 bits. */
export const MAX_CAI_KID = (1n << 48n) - 1n;
/** Reason of a `Sframe` error for a counter already received (as Rust's `REPLAYED_FRAME`). */
export const REPLAYED_FRAME = 'replayed frame: counter already received';
/** Reason of a `Sframe` error for a counter behind the window (as Rust's `COUNTER_TOO_OLD`). */
export const COUNTER_TOO_OLD = 'frame counter too old: outside the replay window';

const U64_MAX = (1n << 64n) - 1n;
const te = new TextEncoder();
const LABEL_CAI = te.encode('cai sframe v1');
const LABEL_SESSION = te.encode('cai sframe session media v2');
const LABEL_KEY = te.encode('SFrame 1.0 Secret key ');
const LABEL_SALT = te.encode('SFrame 1.0 Secret salt ');
const EMPTY = new Uint8Array(0);

/**
 * Error thrown by this module. `name` matches the Rust `cai_crypto::Error` variant:
 * `UnsupportedSuite`, `Truncated`, `TooLarge`, `UnknownMediaKey` (with `kid`),
 * `Sframe` (a replay; `message` is {@link REPLAYED_FRAME} or {@link COUNTER_TOO_OLD}),
 * `AuthenticationFailed`, `LimitExceeded` (counter exhausted), `InvalidInput`; or
 * `Unsupported` when WebCrypto is missing.
 */
export class SframeError extends Error {
  /**
   * @param {string} name Error name (one of the list above).
   * @param {string} message Detail; never contains secrets.
   * @param {bigint} [kid] The KID of an `UnknownMediaKey` frame.
   */
  constructor(name, message, kid) {
    super(message);
    this.name = name;
    if (kid !== undefined) this.kid = kid;
  }
}

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) throw new SframeError('Unsupported', 'WebCrypto (globalThis.crypto.subtle) is not available');
  return s;
}

/** @param {...Uint8Array} parts */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Big-endian bytes of `v` in exactly `len` bytes. @param {bigint} v @param {number} len */
function beBytes(v, len) {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Fewest bytes that hold `v` (at least one). @param {bigint} v */
function minLen(v) {
  let n = 1;
  while (v >> BigInt(8 * n) !== 0n) n++;
  return n;
}

/** @param {unknown} v @param {string} what @returns {bigint} */
function u64(v, what) {
  const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(/** @type {number} */ (v)) : -1n;
  if (b < 0n || b > U64_MAX) throw new SframeError('InvalidInput', `${what} must be an integer in 0..2^64`);
  return b;
}

/** @param {unknown} suite @returns {{id: number, hash: string, nk: number}} */
function suiteParams(suite) {
  if (suite === SUITE_AES_256_GCM_SHA512_128) return { id: suite, hash: 'SHA-512', nk: 32 };
  if (suite === SUITE_AES_128_GCM_SHA256_128) return { id: suite, hash: 'SHA-256', nk: 16 };
  throw new SframeError('UnsupportedSuite', `SFrame suite ${String(suite)} is not supported`);
}

/** @param {unknown} b @param {number} len @param {string} what @returns {Uint8Array} */
function fixed(b, len, what) {
  if (!(b instanceof Uint8Array) || b.length !== len) {
    throw new SframeError('InvalidInput', `${what} must be a Uint8Array of ${len} bytes`);
  }
  return b;
}

/**
 * cai's KID for a sender in a key epoch: `epoch << 16 | senderIndex` (`docs/SFRAME.md` §2).
 * @param {number} epoch u32 key epoch.
 * @param {number} senderIndex u16 index in that epoch's roster.
 * @returns {bigint}
 */
export function mediaKeyId(epoch, senderIndex) {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
    throw new SframeError('InvalidInput', 'epoch must be an integer in 0..=4294967295');
  }
  if (!Number.isInteger(senderIndex) || senderIndex < 0 || senderIndex > 0xffff) {
    throw new SframeError('InvalidInput', 'sender index must be an integer in 0..=65535');
  }
  return (BigInt(epoch) << 16n) | BigInt(senderIndex);
}

/**
 * Encodes an SFrame header (RFC 9605 §4.3): a config byte `X K K K Y C C C`; a KID or
 * counter below 8 sits in the config byte, otherwise it follows in its minimal
 * big-endian length (1..=8 bytes), KID first.
 * @param {bigint|number} kid
 * @param {bigint|number} counter
 * @returns {Uint8Array}
 */
export function encodeHeader(kid, counter) {
  const k = u64(kid, 'KID');
  const c = u64(counter, 'counter');
  let config = 0;
  const parts = [];
  if (k < 8n) {
    config |= Number(k) << 4;
  } else {
    const n = minLen(k);
    config |= 0x80 | ((n - 1) << 4);
    parts.push(beBytes(k, n));
  }
  if (c < 8n) {
    config |= Number(c);
  } else {
    const n = minLen(c);
    config |= 0x08 | (n - 1);
    parts.push(beBytes(c, n));
  }
  return concat(Uint8Array.of(config), ...parts);
}

/**
 * Parses the header at the start of `frame` without a key.
 * @param {Uint8Array} frame
 * @returns {{kid: bigint, counter: bigint, headerLen: number}}
 * @throws {SframeError} `Truncated` when the frame ends inside the header.
 */
export function parseHeader(frame) {
  if (!(frame instanceof Uint8Array)) throw new SframeError('InvalidInput', 'frame must be a Uint8Array');
  if (frame.length < 1) throw new SframeError('Truncated', 'SFrame header: needed 1 byte, got 0');
  const config = frame[0];
  let off = 1;
  /** @param {boolean} extended @param {number} bits */
  const field = (extended, bits) => {
    if (!extended) return BigInt(bits);
    const n = bits + 1;
    if (frame.length < off + n) {
      throw new SframeError('Truncated', `SFrame header: needed ${off + n} bytes, got ${frame.length}`);
    }
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(frame[off + i]);
    off += n;
    return v;
  };
  const kid = field((config & 0x80) !== 0, (config >> 4) & 0x07);
  const counter = field((config & 0x08) !== 0, config & 0x07);
  return { kid, counter, headerLen: off };
}

/** HKDF-SHA256 / -SHA512 `deriveBits` from raw IKM; the IKM key is non-extractable. */
async function hkdfBits(/** @type {Uint8Array|CryptoKey} */ ikm, hash, salt, info, bytes) {
  const s = subtle();
  const key = ikm instanceof Uint8Array ? await s.importKey('raw', ikm, 'HKDF', false, ['deriveBits']) : ikm;
  return new Uint8Array(await s.deriveBits({ name: 'HKDF', hash, salt, info }, key, bytes * 8));
}

/** Length of a call id in bytes (`admitted.call` carries it as 32 lowercase hex characters). */
export const CALL_ID_LEN = 16;

/**
 * The 16 bytes of a call id: from `admitted.call` (exactly 32 lowercase hex characters,
 * as Rust's `CallId::parse_hex`) or already as bytes.
 * @param {string|Uint8Array} callId
 * @returns {Uint8Array}
 * @throws {SframeError} `InvalidInput` for anything else
 */
export function callIdBytes(callId) {
  if (typeof callId === 'string') {
    if (!/^[0-9a-f]{32}$/.test(callId)) {
      throw new SframeError('InvalidInput', 'call id must be 32 lowercase hex characters');
    }
    return Uint8Array.from(callId.match(/../g) ?? [], (pair) => parseInt(pair, 16));
  }
  return fixed(callId, CALL_ID_LEN, 'call id');
}

/**
 * The per-sender SFrame media secret of a call outside end-to-end mode (`docs/SFRAME.md`
 * §3a; Rust: `cai_crypto::sframe::session_media_secret`): HKDF-SHA256 with salt
 * `"cai sframe session media v2"`, IKM = the session's 32-byte data key, info =
 * `sessionId ‖ 0x00 ‖ callId (16 bytes) ‖ u32be(epoch) ‖ u16be(senderIndex)`, 32 bytes.
 * The call id is the one of the call instance (`admitted.call`): indices start again
 * in every call, the call id keeps their keys apart.
 *
 * The caller should zero the returned bytes (`fill(0)`) once it has created its
 * {@link SframeKey}s.
 * @param {Uint8Array} dataKey The session's 32-byte data key (DEK) of `epoch`.
 * @param {string|Uint8Array} sessionId The session id (UTF-8), e.g. `"ses_…"`, 1..=255
 *   bytes without a 0x00 byte.
 * @param {string|Uint8Array} callId `admitted.call` (32 lowercase hex characters) or its
 *   16 bytes ({@link callIdBytes}).
 * @param {number} epoch u32 key epoch.
 * @param {number} senderIndex u16 roster index.
 * @returns {Promise<Uint8Array>} 32 bytes.
 */
export async function sessionMediaSecret(dataKey, sessionId, callId, epoch, senderIndex) {
  fixed(dataKey, 32, 'data key');
  const sid = typeof sessionId === 'string' ? te.encode(sessionId) : sessionId;
  if (!(sid instanceof Uint8Array) || sid.length < 1 || sid.length > 255 || sid.includes(0)) {
    throw new SframeError('InvalidInput', 'session id must be 1..=255 bytes without a 0x00 byte');
  }
  const call = callIdBytes(callId);
  const kid = mediaKeyId(epoch, senderIndex); // validates both
  const info = concat(sid, Uint8Array.of(0), call, beBytes(kid >> 16n, 4), beBytes(kid & 0xffffn, 2));
  return hkdfBits(dataKey, 'SHA-256', LABEL_SESSION, info, 32);
}

/**
 * The SFrame key of one KID: a non-extractable AES-GCM key and the 12-byte salt
 * (RFC 9605 §4.4.2), plus its suite and KID. Shared by a sender and receivers of that KID.
 */
export class SframeKey {
  /** @param {number} suite @param {bigint} kid @param {CryptoKey} key @param {Uint8Array} salt */
  constructor(suite, kid, key, salt) {
    /** @readonly */ this.suite = suite;
    /** @readonly */ this.kid = kid;
    /** @private */ this.key = key;
    /** @private */ this.salt = salt;
  }

  /**
   * The key of sender `senderIndex` in `epoch`, from its 32-byte media secret
   * (`docs/SFRAME.md` §3; Rust `FrameEncryptor::new` / `FrameDecryptor::add_key`).
   * @param {number} suite {@link SUITE_AES_256_GCM_SHA512_128} or {@link SUITE_AES_128_GCM_SHA256_128}.
   * @param {number} epoch
   * @param {number} senderIndex
   * @param {Uint8Array} mediaSecret 32 bytes.
   * @returns {Promise<SframeKey>}
   */
  static async fromMediaSecret(suite, epoch, senderIndex, mediaSecret) {
    const p = suiteParams(suite);
    fixed(mediaSecret, 32, 'media secret');
    const kid = mediaKeyId(epoch, senderIndex);
    const info = concat(LABEL_CAI, beBytes(BigInt(p.id), 2), beBytes(kid, 8));
    const baseKey = await hkdfBits(mediaSecret, 'SHA-256', EMPTY, info, 32);
    try {
      return await SframeKey.fromBaseKey(suite, kid, baseKey);
    } finally {
      baseKey.fill(0);
    }
  }

  /**
   * The key of any KID straight from an RFC 9605 `base_key`: for the RFC vectors and
   * interoperability tests (Rust `FrameDecryptor::add_rfc9605_base_key`). Production
   * code uses {@link SframeKey.fromMediaSecret}.
   * @param {number} suite
   * @param {bigint|number} kid
   * @param {Uint8Array} baseKey
   * @returns {Promise<SframeKey>}
   */
  static async fromBaseKey(suite, kid, baseKey) {
    const p = suiteParams(suite);
    const k = u64(kid, 'KID');
    if (!(baseKey instanceof Uint8Array) || baseKey.length === 0) {
      throw new SframeError('InvalidInput', 'base key must be a non-empty Uint8Array');
    }
    const s = subtle();
    const tail = concat(beBytes(k, 8), beBytes(BigInt(p.id), 2));
    // sframe_secret = HKDF-Extract(salt = "", base_key); WebCrypto's HKDF does extract and
    // expand in one call, so both labels are expanded from the same imported base key.
    const ikm = await s.importKey('raw', baseKey, 'HKDF', false, ['deriveBits', 'deriveKey']);
    const key = await s.deriveKey(
      { name: 'HKDF', hash: p.hash, salt: EMPTY, info: concat(LABEL_KEY, tail) },
      ikm,
      { name: 'AES-GCM', length: p.nk * 8 },
      false,
      ['encrypt', 'decrypt'],
    );
    const salt = await hkdfBits(ikm, p.hash, EMPTY, concat(LABEL_SALT, tail), 12);
    return new SframeKey(p.id, k, key, salt);
  }

  /** nonce = salt XOR counter (96-bit big-endian). @param {bigint} counter */
  nonce(counter) {
    const ctr = beBytes(counter, 12);
    const out = new Uint8Array(12);
    for (let i = 0; i < 12; i++) out[i] = this.salt[i] ^ ctr[i];
    return out;
  }

  /** @param {bigint} counter @param {Uint8Array} aad @param {Uint8Array} plaintext */
  async seal(counter, aad, plaintext) {
    const iv = this.nonce(counter);
    return new Uint8Array(
      await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 }, this.key, plaintext),
    );
  }

  /** @param {bigint} counter @param {Uint8Array} aad @param {Uint8Array} body `ciphertext ‖ tag` */
  async open(counter, aad, body) {
    const iv = this.nonce(counter);
    try {
      return new Uint8Array(
        await subtle().decrypt({ name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 }, this.key, body),
      );
    } catch {
      throw new SframeError('AuthenticationFailed', 'SFrame frame did not authenticate');
    }
  }
}

/** @param {Uint8Array} b @param {string} what */
function checkLen(b, what) {
  if (!(b instanceof Uint8Array)) throw new SframeError('InvalidInput', `${what} must be a Uint8Array`);
  if (b.length > MAX_FRAME_LEN) throw new SframeError('TooLarge', `${what} of ${b.length} bytes exceeds ${MAX_FRAME_LEN}`);
}

/** Random counter start below 2^63 (`docs/SFRAME.md` §4). */
function randomStart() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  b[0] &= 0x7f;
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/**
 * Encrypts one sender's frames under one {@link SframeKey} (one per media secret and
 * KID, shared by all tracks of the sender: `docs/SFRAME.md` §4).
 */
export class SframeSender {
  /**
   * @param {SframeKey} key
   * @param {{initialCounter?: bigint}} [options] `initialCounter` is for known-answer
   *   tests only; a sender otherwise starts at a random counter below 2^63.
   */
  constructor(key, options = {}) {
    if (!(key instanceof SframeKey)) throw new SframeError('InvalidInput', 'key must be an SframeKey');
    /** @private */ this.key = key;
    /** @private */ this.counter =
      options.initialCounter === undefined ? randomStart() : u64(options.initialCounter, 'counter');
    /** @private */ this.exhausted = false;
  }

  /** The KID this sender writes. */
  get kid() {
    return this.key.kid;
  }

  /**
   * Encrypts one frame: `header ‖ AES-GCM(frame) ‖ tag`, with `header ‖ metadata` as AAD.
   * The metadata is authenticated, not included: the receiver passes the same bytes.
   * @param {Uint8Array} frame
   * @param {Uint8Array} [metadata]
   * @returns {Promise<Uint8Array>}
   */
  async protect(frame, metadata = EMPTY) {
    checkLen(frame, 'SFrame plaintext');
    checkLen(metadata, 'SFrame metadata');
    if (this.exhausted) throw new SframeError('LimitExceeded', 'SFrame counter exhausted');
    // Take the counter before any await, so concurrent calls never share one.
    const ctr = this.counter;
    if (ctr === U64_MAX) this.exhausted = true;
    else this.counter = ctr + 1n;
    const header = encodeHeader(this.key.kid, ctr);
    const body = await this.key.seal(ctr, concat(header, metadata), frame);
    return concat(header, body);
  }
}

/** One KID's sliding replay window, the same rules as Rust's (the `sframe` crate's). */
class ReplayWindow {
  /** @param {number} size */
  constructor(size) {
    this.size = BigInt(size);
    /** @type {bigint|null} */ this.newest = null;
    /** @type {Set<bigint>} */ this.seen = new Set();
  }

  /** @param {bigint} c */
  isNewer(c) {
    if (this.newest === null) return true;
    const forward = (c - this.newest) & U64_MAX;
    return forward !== 0n && forward <= U64_MAX / 2n;
  }

  /** @param {bigint} c */
  screen(c) {
    if (this.isNewer(c)) return;
    const back = (/** @type {bigint} */ (this.newest) - c) & U64_MAX;
    if (back >= this.size) throw new SframeError('Sframe', COUNTER_TOO_OLD);
    if (this.seen.has(c)) throw new SframeError('Sframe', REPLAYED_FRAME);
  }

  /** @param {bigint} c */
  record(c) {
    if (this.isNewer(c)) this.newest = c;
    const newest = /** @type {bigint} */ (this.newest);
    this.seen.add(c);
    for (const x of this.seen) if (((newest - x) & U64_MAX) >= this.size) this.seen.delete(x);
  }
}

/**
 * Decrypts the frames of all senders, each looked up by its KID, with a replay window
 * per KID. Checks in Rust's order (`docs/SFRAME.md` §6): sizes (`TooLarge`), header
 * (`Truncated`), header plus tag fit (`Truncated`), key (`UnknownMediaKey`), replay
 * window (`Sframe`), authentication (`AuthenticationFailed`). Only an authenticated frame
 * moves the window.
 */
export class SframeReceiver {
  /** @param {{replayWindow?: number}} [options] 1..=65536 frames, default 128. */
  constructor(options = {}) {
    const w = options.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    if (!Number.isInteger(w) || w < 1 || w > 65536) {
      throw new SframeError('InvalidInput', 'replay window must hold 1 to 65536 frames');
    }
    /** @private */ this.window = w;
    /** @private @type {Map<bigint, {key: SframeKey, replay: ReplayWindow}>} */ this.keys = new Map();
  }

  /**
   * Adds (or replaces, restarting its replay window) the key of its KID.
   * @param {SframeKey} key
   */
  addKey(key) {
    if (!(key instanceof SframeKey)) throw new SframeError('InvalidInput', 'key must be an SframeKey');
    this.keys.set(key.kid, { key, replay: new ReplayWindow(this.window) });
  }

  /** Removes the key of `kid`; returns whether it was held. @param {bigint} kid */
  removeKey(kid) {
    return this.keys.delete(kid);
  }

  /**
   * Removes every key of an epoch before `epoch` (cai KIDs); returns how many.
   * @param {number} epoch
   */
  removeEpochsBefore(epoch) {
    let n = 0;
    for (const kid of [...this.keys.keys()]) {
      if (kid >> 16n < BigInt(epoch)) {
        this.keys.delete(kid);
        n++;
      }
    }
    return n;
  }

  /**
   * Decrypts one frame (`header ‖ ciphertext ‖ tag`); `metadata` must be the bytes the
   * sender authenticated.
   * @param {Uint8Array} frame
   * @param {Uint8Array} [metadata]
   * @returns {Promise<{plaintext: Uint8Array, kid: bigint, counter: bigint}>}
   */
  async unprotect(frame, metadata = EMPTY) {
    checkLen(frame, 'SFrame frame');
    checkLen(metadata, 'SFrame metadata');
    const { kid, counter, headerLen } = parseHeader(frame);
    if (frame.length < headerLen + TAG_LEN) {
      throw new SframeError('Truncated', `SFrame frame: needed ${headerLen + TAG_LEN} bytes, got ${frame.length}`);
    }
    const entry = this.keys.get(kid);
    if (!entry) {
      const who = kid <= MAX_CAI_KID ? ` (epoch ${kid >> 16n}, sender ${kid & 0xffffn})` : '';
      throw new SframeError('UnknownMediaKey', `no media key for KID ${kid}${who}`, kid);
    }
    entry.replay.screen(counter);
    const header = frame.subarray(0, headerLen);
    const plaintext = await entry.key.open(counter, concat(header, metadata), frame.subarray(headerLen));
    // Screen again: a concurrent call may have recorded this counter during the await.
    entry.replay.screen(counter);
    entry.replay.record(counter);
    return { plaintext, kid, counter };
  }
}
