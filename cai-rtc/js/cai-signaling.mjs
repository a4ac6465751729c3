// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file A browser client of cai's signaling protocol, version 1 (`docs/SIGNALING.md`):
 * builds the client messages, checks the server's, and runs one participant's part in a
 * call over a WebSocket. No dependencies; works wherever `WebSocket` and `EventTarget`
 * exist (browsers; Node.js ≥ 20 with any WebSocket-like object).
 *
 * ```js
 * const client = new SignalingClient(new WebSocket('wss://…/signal'));
 * client.addEventListener('offer', (e) => { const { from, description } = e.detail; … });
 * const admitted = await client.join(tokenAuth(sessionToken, 'ses_…'));
 * for (const peer of admitted.peers) client.offer(peer.sender_index, pc.localDescription.toJSON());
 * ```
 *
 * What it checks of a server message: one JSON object, `v` the number 1, a known `type`
 * and that type's members with their JSON types (the shapes of §5); `admitted.call`, the
 * call instance's id that session media keys are derived with (`docs/SFRAME.md` §3a),
 * must be present and exactly 32 lowercase hex characters (checked before the rest of the
 * shape: `Malformed` with `field` `call`). A message that fails is dropped and
 * reported as a `protocol_error` event; it never reaches the caller's handlers. Ids (`ses_…`) and descriptions pass through as the server relayed them:
 * their meaning is the peer connection's business (fingerprints, §7).
 *
 * @module cai-signaling
 */

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;
/** Largest message the server reads (`MAX_MESSAGE_BYTES`); larger ones are refused here. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Largest request id (`id` is an unsigned 32-bit number). */
export const MAX_ID = 0xffff_ffff;
/**
 * Default keep-alive: a `ping` goes out after this many milliseconds without sending
 * anything; the server closes a joined connection silent for 60 s (§8).
 */
export const KEEP_ALIVE_MS = 20_000;

/**
 * Error of this module. `name`: `Malformed` (a server message that is not protocol
 * version 1 JSON of a known shape; `field` names the member at fault, if one is), `InvalidInput` (a bad argument), `Denied` (the join
 * was refused: `reason`, `retryAfterMs`), `Refused` (the server answered a request with
 * `error`: `code`, `field`, `retryAfterMs`), `Closed` (the connection closed first),
 * `Ended` (the server ended the participant's part: `reason`).
 */
export class SignalingError extends Error {
  /**
   * @param {string} name
   * @param {string} message
   * @param {{reason?: string, code?: string, field?: string, retryAfterMs?: number}} [details]
   */
  constructor(name, message, details = {}) {
    super(message);
    this.name = name;
    this.reason = details.reason;
    this.code = details.code;
    this.field = details.field;
    this.retryAfterMs = details.retryAfterMs;
  }
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v) => Number.isInteger(v) && v >= 0 && v <= 0xffff;
const isU32 = (v) => Number.isInteger(v) && v >= 0 && v <= MAX_ID;
const isString = (v) => typeof v === 'string';

function need(cond, what) {
  if (!cond) throw new SignalingError('InvalidInput', what);
}

/** @param {number|undefined} id */
function withId(id, body) {
  if (id === undefined) return { v: PROTOCOL_VERSION, ...body };
  need(isU32(id), 'id must be an integer in 0..=4294967295');
  return { v: PROTOCOL_VERSION, id, ...body };
}

// ---- join credentials (`auth`, §4) ----------------------------------------------------

/**
 * An account's (or a guest's earlier `cg1_…`) session token for `session`.
 * @param {string} token @param {string} session `ses_…`
 */
export function tokenAuth(token, session) {
  need(isString(token) && token.length > 0, 'token must be a non-empty string');
  need(isString(session) && session.startsWith('ses_'), 'session must be a ses_… id');
  return { kind: 'token', token, session };
}

/**
 * A guest with a pseudonym and the secret of a guest link of `tenant`.
 * @param {string} tenant `ten_…` @param {string} pseudonym @param {string} secret `inv_….<hex>`
 */
export function guestLinkAuth(tenant, pseudonym, secret) {
  need(isString(tenant) && tenant.startsWith('ten_'), 'tenant must be a ten_… id');
  need(isString(pseudonym) && pseudonym.length > 0, 'pseudonym must be a non-empty string');
  need(isString(secret) && secret.startsWith('inv_'), 'secret must be an inv_… guest link secret');
  return { kind: 'guest_link', tenant, pseudonym, secret };
}

/**
 * A visitor of a counsellor's room: its session token and the room's password.
 * @param {string} token @param {string} room `rom_…` @param {string} password
 */
export function roomAuth(token, room, password) {
  need(isString(token) && token.length > 0, 'token must be a non-empty string');
  need(isString(room) && room.startsWith('rom_'), 'room must be a rom_… id');
  need(isString(password), 'password must be a string');
  return { kind: 'room', token, room, password };
}

// ---- client messages (§4) ---------------------------------------------------------------

/** `join` with credentials from {@link tokenAuth}, {@link guestLinkAuth} or {@link roomAuth}. */
export function joinMessage(auth, id) {
  need(isObject(auth) && isString(auth.kind), 'auth must come from tokenAuth, guestLinkAuth or roomAuth');
  return withId(id, { type: 'join', auth });
}

function description(type, to, desc, signature, id) {
  need(isIndex(to), 'to must be a sender index in 0..=65535');
  need(isObject(desc) && isString(desc.type) && isString(desc.sdp), 'description must be an RTCSessionDescriptionInit');
  const body = { type, to, description: { type: desc.type, sdp: desc.sdp } };
  if (signature !== undefined) {
    need(isString(signature), 'signature must be base64 text');
    body.signature = signature;
  }
  return withId(id, body);
}

/**
 * `offer` to the peer with sender index `to` (`pc.localDescription.toJSON()`).
 * @param {number} to @param {{type: string, sdp: string}} desc
 * @param {{signature?: string, id?: number}} [opts] `signature`: base64 Ed25519 (§7)
 */
export function offerMessage(to, desc, { signature, id } = {}) {
  need(desc?.type === 'offer', 'an offer carries a description of type offer');
  return description('offer', to, desc, signature, id);
}

/** `answer` to `to`; like {@link offerMessage}, of type `answer` or `pranswer`. */
export function answerMessage(to, desc, { signature, id } = {}) {
  need(desc?.type === 'answer' || desc?.type === 'pranswer', 'an answer carries a description of type answer or pranswer');
  return description('answer', to, desc, signature, id);
}

/**
 * `ice`: one trickled candidate for `to` (`event.candidate.toJSON()`), or the end of
 * candidates (`null`, sent as an empty candidate).
 * @param {number} to @param {{candidate: string, sdpMid?: string|null, sdpMLineIndex?: number|null, usernameFragment?: string|null}|null} candidate
 */
export function iceMessage(to, candidate) {
  need(isIndex(to), 'to must be a sender index in 0..=65535');
  if (candidate === null) return withId(undefined, { type: 'ice', to, candidate: { candidate: '' } });
  need(isObject(candidate) && isString(candidate.candidate), 'candidate must be an RTCIceCandidateInit');
  // Members the browser sets to null are left out, as the protocol's examples do.
  const c = { candidate: candidate.candidate };
  for (const k of ['sdpMid', 'sdpMLineIndex', 'usernameFragment']) {
    if (candidate[k] !== null && candidate[k] !== undefined) c[k] = candidate[k];
  }
  return withId(undefined, { type: 'ice', to, candidate: c });
}

/** `leave`. */
export function leaveMessage() {
  return withId(undefined, { type: 'leave' });
}

/** `ping` (answered with `pong`). @param {number} [id] */
export function pingMessage(id) {
  return withId(id, { type: 'ping' });
}

/** The JSON text of a message; refuses one over {@link MAX_MESSAGE_BYTES}. */
export function encodeMessage(msg) {
  const text = JSON.stringify(msg);
  need(new TextEncoder().encode(text).length <= MAX_MESSAGE_BYTES, 'message over 256 KiB');
  return text;
}

// ---- server messages (§5) ---------------------------------------------------------------

const optional = (check) => (v) => v === undefined || check(v);
const isDescription = (v) => isObject(v) && isString(v.type) && isString(v.sdp);
const isCandidate = (v) => isObject(v) && isString(v.candidate);
const isPeer = (v) => isObject(v) && isString(v.participant) && isIndex(v.sender_index);
const isMillis = (v) => Number.isSafeInteger(v) && v >= 0;
const isStringArray = (v) => Array.isArray(v) && v.every(isString);
/** `admitted.call`: 16 bytes as exactly 32 lowercase hex characters. */
const isCallId = (v) => isString(v) && /^[0-9a-f]{32}$/.test(v);

/** The members of each server message type and their checks (`v`, `type` aside). */
const SERVER_SHAPES = {
  admitted: {
    session: isString,
    call: isCallId,
    participant: isString,
    sender_index: isIndex,
    peers: (v) => Array.isArray(v) && v.every(isPeer),
    mode: (v) => ['server_managed', 'session_key', 'passphrase', 'end_to_end'].includes(v),
    end_to_end: (v) => typeof v === 'boolean',
    key_epoch: isU32,
    guest_token: optional(isString),
  },
  waiting: { session: isString },
  denied: { reason: isString, retry_after_ms: optional(isMillis), in_reply_to: optional(isU32) },
  peer_joined: { participant: isString, sender_index: isIndex },
  peer_left: { sender_index: isIndex },
  offer: { from: isIndex, description: isDescription, signature: optional(isString) },
  answer: { from: isIndex, description: isDescription, signature: optional(isString) },
  ice: { from: isIndex, candidate: isCandidate },
  mls_stored: { count: isU32, in_reply_to: optional(isU32) },
  mls_claimed: { participant: isString, packages: isStringArray, in_reply_to: optional(isU32) },
  mls_epoch: { epoch: isU32, commit: isString, record: isString, welcome: optional(isString), committed_by: isString },
  key_epoch: { epoch: isU32 },
  error: { code: isString, field: optional(isString), retry_after_ms: optional(isMillis), in_reply_to: optional(isU32) },
  pong: { in_reply_to: optional(isU32) },
  ended: { reason: (v) => ['removed', 'session_closed', 'revoked'].includes(v) },
};

/** The server message types this client knows. */
export const SERVER_TYPES = Object.freeze(Object.keys(SERVER_SHAPES));

/**
 * Reads one server message: JSON text of at most {@link MAX_MESSAGE_BYTES}, an object with
 * `v` 1, a known `type`, exactly that type's members (optional ones may be absent).
 * @param {string} text
 * @returns {Record<string, any>} the message object
 * @throws {SignalingError} `Malformed`, never quoting the input
 */
export function parseServerMessage(text) {
  if (!isString(text)) throw new SignalingError('Malformed', 'a server message is a text frame');
  // UTF-8 bytes, counted only when the text could be near the limit.
  if (text.length > MAX_MESSAGE_BYTES / 3 && new TextEncoder().encode(text).length > MAX_MESSAGE_BYTES) throw new SignalingError('Malformed', 'server message over 256 KiB');
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    throw new SignalingError('Malformed', 'server message is not JSON');
  }
  if (!isObject(msg)) throw new SignalingError('Malformed', 'server message is not a JSON object');
  if (msg.v !== PROTOCOL_VERSION) throw new SignalingError('Malformed', 'server message of an unsupported protocol version');
  const shape = Object.hasOwn(SERVER_SHAPES, msg.type) ? SERVER_SHAPES[msg.type] : undefined;
  if (!shape) throw new SignalingError('Malformed', 'server message of an unknown type');
  // The call id keys the media (§3a of docs/SFRAME.md): a missing or bad one is named
  // before the rest of the shape is looked at, as the Rust parser does.
  if (msg.type === 'admitted' && !isCallId(msg.call)) throw new SignalingError('Malformed', 'admitted: missing or invalid call', { field: 'call' });
  for (const key of Object.keys(msg)) {
    if (key !== 'v' && key !== 'type' && !Object.hasOwn(shape, key)) {
      throw new SignalingError('Malformed', `${msg.type}: unknown member ${key}`);
    }
  }
  for (const [key, check] of Object.entries(shape)) {
    if (!check(msg[key])) throw new SignalingError('Malformed', `${msg.type}: missing or invalid ${key}`, { field: key });
  }
  return msg;
}

// ---- the client ---------------------------------------------------------------------------

/**
 * One participant's signaling connection. Server messages are dispatched as events named
 * by their type (`admitted`, `peer_joined`, `peer_left`, `offer`, `answer`, `ice`,
 * `key_epoch`, `error`, `ended`, …) with the message as `detail`; `close` when the socket
 * closes; `protocol_error` (detail: the {@link SignalingError}) for a server message that
 * does not parse. Requests with an answer ({@link join}, {@link ping}) return promises.
 *
 * Keep-alive: while the socket is open, a `ping` (without `id`; its `pong` is dispatched
 * as an event) goes out whenever nothing was sent for `keepAliveMs`, so the server's idle
 * timeout does not end a quiet call. The timer stops when the socket closes and never
 * keeps a Node.js process alive by itself.
 */
export class SignalingClient extends EventTarget {
  /** @type {WebSocket} */ #ws;
  #nextId = 1;
  /** @type {Map<number, {resolve: (m: any) => void, reject: (e: Error) => void, type: string}>} */
  #pending = new Map();
  /** @type {Record<string, any>|null} */ #admitted = null;
  #closed = false;
  /** @type {Promise<void>} */ #open;
  #keepAliveMs;
  /** @type {ReturnType<typeof setTimeout>|undefined} */ #keepAlive;

  /**
   * @param {WebSocket} ws a WebSocket to the signaling endpoint (open or opening)
   * @param {{keepAliveMs?: number}} [options] `keepAliveMs`: send `ping` after this many
   *   milliseconds without sending anything (default {@link KEEP_ALIVE_MS}, at least 1000;
   *   keep it well below the server's idle timeout of 60 s)
   */
  constructor(ws, { keepAliveMs = KEEP_ALIVE_MS } = {}) {
    super();
    need(Number.isSafeInteger(keepAliveMs) && keepAliveMs >= 1000, 'keepAliveMs must be an integer of at least 1000');
    this.#ws = ws;
    this.#keepAliveMs = keepAliveMs;
    this.#open = new Promise((resolve, reject) => {
      if (ws.readyState === 1) resolve();
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('close', () => reject(new SignalingError('Closed', 'signaling closed before it opened')), { once: true });
    });
    // A join or ping that never gets its answer rejects on close; nobody needs to await #open.
    this.#open.catch(() => {});
    this.#open.then(() => this.#armKeepAlive(), () => {});
    ws.addEventListener('message', (e) => this.#receive(e.data));
    ws.addEventListener('close', () => this.#onClose());
  }

  /** The `admitted` message of the current call, or `null`. */
  get admitted() {
    return this.#admitted;
  }

  /** Whether the socket closed. */
  get closed() {
    return this.#closed;
  }

  /**
   * Joins a call. Resolves with `admitted` (after `waiting`, if a room's host must admit
   * first; a `waiting` event is dispatched meanwhile). Rejects with `Denied` (`reason`,
   * `retryAfterMs`), `Refused` (an `error` answer) or `Closed`.
   * @param {ReturnType<typeof tokenAuth>} auth
   */
  async join(auth) {
    return this.#request((id) => joinMessage(auth, id), 'admitted');
  }

  /** Pings; resolves when the `pong` comes. */
  async ping() {
    return this.#request((id) => pingMessage(id), 'pong');
  }

  /** Sends an offer to the peer with sender index `to`. */
  offer(to, desc, opts) {
    this.#send(offerMessage(to, desc, opts));
  }

  /** Sends an answer to `to`. */
  answer(to, desc, opts) {
    this.#send(answerMessage(to, desc, opts));
  }

  /** Trickles a candidate (or `null`: the end of candidates) to `to`. */
  ice(to, candidate) {
    this.#send(iceMessage(to, candidate));
  }

  /** Leaves the call; the connection stays and may join again. */
  leave() {
    this.#admitted = null;
    this.#send(leaveMessage());
  }

  /** Closes the connection. */
  close() {
    this.#ws.close(1000);
  }

  #send(msg) {
    if (this.#closed) throw new SignalingError('Closed', 'signaling is closed');
    this.#ws.send(encodeMessage(msg));
    this.#armKeepAlive();
  }

  /** (Re)starts the keep-alive: the next `ping` goes out `keepAliveMs` after this send. */
  #armKeepAlive() {
    clearTimeout(this.#keepAlive);
    if (this.#closed) return;
    this.#keepAlive = setTimeout(() => {
      try {
        this.#send(pingMessage());
      } catch {
        // Closed meanwhile: the close handler has cleared everything.
      }
    }, this.#keepAliveMs);
    // Node.js: a pending keep-alive alone does not keep the process running.
    this.#keepAlive?.unref?.();
  }

  async #request(build, answerType) {
    const id = this.#nextId;
    this.#nextId = id >= MAX_ID ? 1 : id + 1;
    const msg = build(id);
    await this.#open;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, type: answerType });
      try {
        this.#send(msg);
      } catch (e) {
        this.#pending.delete(id);
        reject(e);
      }
    });
  }

  /** The pending request an answer settles: by `in_reply_to`, else the only join. */
  #takePending(msg) {
    let id = msg.in_reply_to;
    if (id === undefined && msg.type === 'admitted') {
      // `admitted` after `waiting` names no request: it answers the pending join.
      for (const [k, p] of this.#pending) if (p.type === 'admitted') id = k;
    }
    const p = id === undefined ? undefined : this.#pending.get(id);
    if (p) this.#pending.delete(id);
    return p;
  }

  #receive(data) {
    let msg;
    try {
      msg = parseServerMessage(data);
    } catch (e) {
      this.dispatchEvent(new CustomEvent('protocol_error', { detail: e }));
      return;
    }
    if (msg.type === 'admitted') this.#admitted = msg;
    if (['admitted', 'denied', 'pong', 'error'].includes(msg.type)) {
      const p = this.#takePending(msg);
      if (p && msg.type === p.type) p.resolve(msg);
      else if (p && msg.type === 'denied') {
        p.reject(new SignalingError('Denied', `join denied: ${msg.reason}`, { reason: msg.reason, retryAfterMs: msg.retry_after_ms }));
      } else if (p) {
        p.reject(
          new SignalingError('Refused', `request refused: ${msg.code}`, { code: msg.code, field: msg.field, retryAfterMs: msg.retry_after_ms }),
        );
      }
    }
    if (msg.type === 'ended') this.#admitted = null;
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
  }

  #onClose() {
    this.#closed = true;
    clearTimeout(this.#keepAlive);
    this.#admitted = null;
    for (const p of this.#pending.values()) p.reject(new SignalingError('Closed', 'signaling closed'));
    this.#pending.clear();
    this.dispatchEvent(new Event('close'));
  }
}
