// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file Chat messages of cai's sealed data channel, with WebCrypto only: the byte
 * format of the Rust `cai_rtc::data` module (`docs/DATACHANNEL.md`), chat messages only
 * (file offers and chunks are refused as `Unsupported` here).
 *
 * ```text
 * message  = header (12 bytes) ‖ envelope v1
 * header   = 0x01 (version) ‖ type (0x01 chat) ‖ sender_index u16be ‖ seq u64be
 * envelope = envelope v1 of the UTF-8 text under the session's data key, context
 *            (tenant, session, item = "cai-dc2" ‖ call id (16 bytes) ‖ header, version 1,
 *             kind Message[, mode])
 * ```
 *
 * The header is public but bound into the envelope as its item id, so it cannot be
 * altered; so is the call instance (`admitted.call` from signaling), so a message
 * recorded in one call never opens in another, where the same sender index and sequence
 * numbers come again. A receiver accepts from each sender only rising sequence numbers, and only an
 * authentic message moves that window. Envelopes are sealed and opened by
 * `cai-envelope.mjs` (imported, not copied).
 *
 * @module cai-datachannel
 */
import { Sealer, openEnvelope, parseHeader as parseEnvelopeHeader } from '../../cai-crypto/js/cai-envelope.mjs';

/** Version byte of every message. */
export const VERSION = 0x01;
/** Length of the public header. */
export const HEADER_LEN = 12;
/** Message type codes: chat, file offer, file chunk. */
export const TYPE_CHAT = 0x01;
export const TYPE_FILE_OFFER = 0x02;
export const TYPE_FILE_CHUNK = 0x03;

const te = new TextEncoder();
const ITEM_PREFIX = te.encode('cai-dc2');
/** Length of a call id in bytes. */
const CALL_ID_LEN = 16;
const U64_MAX = (1n << 64n) - 1n;

/**
 * Error of this module. `name`: `Truncated`, `UnsupportedVersion`, `UnknownType`,
 * `Unsupported` (a file message), `Replayed`, `OwnSender`, `ForeignSender`, `Malformed`
 * (text not UTF-8), `InvalidInput`; errors of `cai-envelope.mjs` (`AuthenticationFailed`, `WrongKey`, …)
 * pass through unchanged.
 */
export class DataChannelError extends Error {
  /** @param {string} name @param {string} message */
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

/**
 * The 12 header bytes.
 * @param {{type: number, sender: number, seq: bigint}} h
 * @returns {Uint8Array}
 */
export function encodeHeader({ type, sender, seq }) {
  if (!Number.isInteger(sender) || sender < 0 || sender > 0xffff) {
    throw new DataChannelError('InvalidInput', 'sender index must be an integer in 0..=65535');
  }
  if (typeof seq !== 'bigint' || seq < 0n || seq > U64_MAX) {
    throw new DataChannelError('InvalidInput', 'sequence number must be a BigInt in 0..2^64');
  }
  const out = new Uint8Array(HEADER_LEN);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = type;
  view.setUint16(2, sender, false);
  view.setBigUint64(4, seq, false);
  return out;
}

/**
 * Splits a message into its header fields and the envelope after it.
 * @param {Uint8Array} message
 * @returns {{type: number, sender: number, seq: bigint, header: Uint8Array, envelope: Uint8Array}}
 */
export function parseMessage(message) {
  if (!(message instanceof Uint8Array)) throw new DataChannelError('InvalidInput', 'message must be a Uint8Array');
  if (message.length < HEADER_LEN) {
    throw new DataChannelError('Truncated', `message header truncated: needed ${HEADER_LEN} bytes, got ${message.length}`);
  }
  if (message[0] !== VERSION) throw new DataChannelError('UnsupportedVersion', `unsupported data-channel message version ${message[0]}`);
  const type = message[1];
  if (type !== TYPE_CHAT && type !== TYPE_FILE_OFFER && type !== TYPE_FILE_CHUNK) {
    throw new DataChannelError('UnknownType', `unknown data-channel message type ${type}`);
  }
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  return {
    type,
    sender: view.getUint16(2, false),
    seq: view.getBigUint64(4, false),
    header: message.subarray(0, HEADER_LEN),
    envelope: message.subarray(HEADER_LEN),
  };
}

/**
 * The 16 bytes of a call id: `admitted.call` (exactly 32 lowercase hex characters) or
 * the bytes themselves.
 * @param {unknown} call
 * @returns {Uint8Array}
 */
function callIdBytes(call) {
  if (typeof call === 'string' && /^[0-9a-f]{32}$/.test(call)) {
    return Uint8Array.from(call.match(/../g) ?? [], (pair) => parseInt(pair, 16));
  }
  if (call instanceof Uint8Array && call.length === CALL_ID_LEN) return call.slice();
  throw new DataChannelError('InvalidInput', 'call id must be 32 lowercase hex characters or 16 bytes');
}

/**
 * The envelope context of a chat message with the given header bytes.
 * @param {{tenant: string|Uint8Array, session: string|Uint8Array, call: Uint8Array, mode?: Uint8Array}} ctx
 * @param {Uint8Array} header
 */
function chatContext(ctx, header) {
  const item = new Uint8Array(ITEM_PREFIX.length + CALL_ID_LEN + HEADER_LEN);
  item.set(ITEM_PREFIX);
  item.set(ctx.call, ITEM_PREFIX.length);
  item.set(header, ITEM_PREFIX.length + CALL_ID_LEN);
  return { tenant: ctx.tenant, session: ctx.session, item, version: 1, kind: 'Message', mode: ctx.mode };
}

/** Guards the constructor: only {@link ChatChannel.create} holds it. */
const CREATE = Symbol('ChatChannel.create');

/**
 * One endpoint's chat on a sealed data channel: seals its own messages (sequence numbers
 * 0, 1, 2, …) and opens the others', with the replay window per sender.
 */
export class ChatChannel {
  /** @type {{tenant: string|Uint8Array, session: string|Uint8Array, call: Uint8Array, senderIndex: number, remoteIndex?: number, mode?: Uint8Array}} */ #ctx;
  /** @type {Sealer} */ #sealer;
  /** @type {Uint8Array} */ #key;
  /** @type {Uint8Array} */ #keyId;
  /** @type {number} */ #epoch;
  #nextSeq = 0n;
  /** @type {Map<number, bigint>} */ #lastSeq = new Map();

  /** @param {symbol} token @param {any} ctx @param {Sealer} sealer @param {Uint8Array} key @param {Uint8Array} keyId @param {number} epoch */
  constructor(token, ctx, sealer, key, keyId, epoch) {
    if (token !== CREATE) throw new TypeError('use ChatChannel.create');
    this.#ctx = ctx;
    this.#sealer = sealer;
    this.#key = key;
    this.#keyId = keyId;
    this.#epoch = epoch;
  }

  /**
   * @param {{tenant: string|Uint8Array, session: string|Uint8Array, call: string|Uint8Array, senderIndex: number, remoteIndex?: number, mode?: Uint8Array}} ctx
   *   The session's ids, the call instance's id (`admitted.call`: 32 lowercase hex
   *   characters, or its 16 bytes), this endpoint's roster index, the remote's (messages
   *   claiming anyone else are refused) and, in a session with a signed mode descriptor,
   *   its 32-byte binding.
   * @param {Uint8Array} keyBytes The session's 32-byte data key.
   * @param {Uint8Array} keyId Its 16-byte id.
   * @param {number} epoch Its epoch.
   * @returns {Promise<ChatChannel>}
   */
  static async create(ctx, keyBytes, keyId, epoch) {
    encodeHeader({ type: TYPE_CHAT, sender: ctx.senderIndex, seq: 0n }); // validates the index
    if (ctx.remoteIndex !== undefined) encodeHeader({ type: TYPE_CHAT, sender: ctx.remoteIndex, seq: 0n });
    const call = callIdBytes(ctx.call);
    const sealer = await Sealer.create(keyBytes, keyId, epoch);
    return new ChatChannel(CREATE, { ...ctx, call }, sealer, keyBytes.slice(), keyId.slice(), epoch);
  }

  /**
   * Seals one chat message.
   * @param {string} text
   * @returns {Promise<Uint8Array>} `header ‖ envelope`, to send as one binary message.
   */
  async sealChat(text) {
    // Take the sequence number before any await, so concurrent calls never share one.
    const seq = this.#nextSeq;
    this.#nextSeq = seq + 1n;
    const header = encodeHeader({ type: TYPE_CHAT, sender: this.#ctx.senderIndex, seq });
    const envelope = await this.#sealer.seal(chatContext(this.#ctx, header), te.encode(text));
    const out = new Uint8Array(HEADER_LEN + envelope.length);
    out.set(header);
    out.set(envelope, HEADER_LEN);
    return out;
  }

  /**
   * Opens one received message: checks the header, the sender, the sequence number and
   * the envelope (whose key must be this channel's).
   * @param {Uint8Array} message
   * @returns {Promise<{sender: number, seq: bigint, text: string}>}
   */
  async open(message) {
    const m = parseMessage(message);
    if (m.sender === this.#ctx.senderIndex) {
      throw new DataChannelError('OwnSender', `message claims this endpoint's own sender index ${m.sender}`);
    }
    // Every participant holds the sealing key: the index is checked, not trusted.
    if (this.#ctx.remoteIndex !== undefined && m.sender !== this.#ctx.remoteIndex) {
      throw new DataChannelError('ForeignSender', `message claims sender ${m.sender}, but this channel's remote is ${this.#ctx.remoteIndex}`);
    }
    const last = this.#lastSeq.get(m.sender);
    if (last !== undefined && m.seq <= last) {
      throw new DataChannelError('Replayed', `message ${m.seq} of sender ${m.sender} replayed or reordered (last was ${last})`);
    }
    if (m.type !== TYPE_CHAT) throw new DataChannelError('Unsupported', 'file messages are not handled by this module');
    parseEnvelopeHeader(m.envelope);
    const body = await openEnvelope(this.#key, this.#keyId, this.#epoch, chatContext(this.#ctx, m.header), m.envelope);
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw new DataChannelError('Malformed', 'chat message is not UTF-8');
    }
    // Only an authentic message moves the window; re-check after the await.
    const now = this.#lastSeq.get(m.sender);
    if (now !== undefined && m.seq <= now) {
      throw new DataChannelError('Replayed', `message ${m.seq} of sender ${m.sender} replayed or reordered (last was ${now})`);
    }
    this.#lastSeq.set(m.sender, m.seq);
    return { sender: m.sender, seq: m.seq, text };
  }
}
