// SPDX-License-Identifier: Apache-2.0 OR MIT
// Self-test of cai-signaling.mjs: `node --test cai-rtc/js/`. The examples are taken from
// docs/SIGNALING.md itself (its ```json blocks), so the module and the contract cannot
// drift apart unnoticed; the Rust side checks the same examples in
// cai-rtc/tests/signaling_messages.rs, and cai-rtc/tests/browser.rs runs this client in
// Chromium against the Rust hub.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  KEEP_ALIVE_MS,
  MAX_MESSAGE_BYTES,
  SERVER_TYPES,
  SignalingClient,
  answerMessage,
  encodeMessage,
  guestLinkAuth,
  iceMessage,
  joinMessage,
  leaveMessage,
  offerMessage,
  parseServerMessage,
  pingMessage,
  roomAuth,
  tokenAuth,
} from './cai-signaling.mjs';

const doc = readFileSync(new URL('../../docs/SIGNALING.md', import.meta.url), 'utf8');

/** The ```json examples between two section headings of the document. */
function examples(from, to) {
  const start = doc.indexOf(from);
  const end = doc.indexOf(to, start);
  assert.ok(start >= 0 && end > start, `sections ${from} … ${to} in docs/SIGNALING.md`);
  return [...doc.slice(start, end).matchAll(/```json\n(.*?)\n```/gs)].map((m) => m[1]);
}

const clientExamples = examples('## 4. Client messages', '## 5. Server messages');
const serverExamples = examples('## 5. Server messages', '## 6.');

test('every client example of the document is what the builders make', () => {
  const built = [];
  for (const text of clientExamples) {
    const ex = JSON.parse(text);
    let mine;
    switch (ex.type) {
      case 'join': {
        const a = ex.auth;
        const auth =
          a.kind === 'token'
            ? tokenAuth(a.token, a.session)
            : a.kind === 'guest_link'
              ? guestLinkAuth(a.tenant, a.pseudonym, a.secret)
              : roomAuth(a.token, a.room, a.password);
        mine = joinMessage(auth, ex.id);
        break;
      }
      case 'offer':
        mine = offerMessage(ex.to, ex.description, { signature: ex.signature, id: ex.id });
        break;
      case 'answer':
        mine = answerMessage(ex.to, ex.description, { signature: ex.signature, id: ex.id });
        break;
      case 'ice':
        mine = iceMessage(ex.to, ex.candidate.candidate === '' ? null : ex.candidate);
        break;
      case 'leave':
        mine = leaveMessage();
        break;
      case 'ping':
        mine = pingMessage(ex.id);
        break;
      default:
        // MLS carriage (end-to-end sessions) is not built by this module.
        assert.match(ex.type, /^mls_/);
        continue;
    }
    assert.deepEqual(mine, ex, ex.type);
    // Same members in the same order: the JSON text is the example's.
    assert.equal(encodeMessage(mine), JSON.stringify(ex));
    built.push(ex.type);
  }
  assert.deepEqual([...new Set(built)].sort(), ['answer', 'ice', 'join', 'leave', 'offer', 'ping']);
  assert.equal(built.filter((t) => t === 'join').length, 3, 'token, guest link and room');
});

test('every server example of the document parses, and every type has one', () => {
  const seen = new Set();
  for (const text of serverExamples) {
    const msg = parseServerMessage(text);
    assert.deepEqual(msg, JSON.parse(text));
    seen.add(msg.type);
  }
  assert.deepEqual([...seen].sort(), [...SERVER_TYPES].sort());
});

test('a browser candidate with null members is sent without them; the end of candidates is empty', () => {
  const c = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null };
  assert.deepEqual(iceMessage(3, c), { v: 1, type: 'ice', to: 3, candidate: { candidate: c.candidate, sdpMid: '0', sdpMLineIndex: 0 } });
  assert.deepEqual(iceMessage(3, null), { v: 1, type: 'ice', to: 3, candidate: { candidate: '' } });
});

test('builders refuse bad input: indices at 65535 pass, 65536 fails; ids at 2^32-1 pass, 2^32 fails', () => {
  const offer = { type: 'offer', sdp: 'v=0\r\n' };
  assert.equal(offerMessage(0xffff, offer).to, 0xffff);
  assert.throws(() => offerMessage(0x10000, offer), { name: 'InvalidInput' });
  assert.throws(() => offerMessage(-1, offer), { name: 'InvalidInput' });
  assert.equal(pingMessage(0xffff_ffff).id, 0xffff_ffff);
  assert.throws(() => pingMessage(0x1_0000_0000), { name: 'InvalidInput' });
  assert.throws(() => pingMessage(1.5), { name: 'InvalidInput' });
  assert.throws(() => offerMessage(1, { type: 'answer', sdp: '' }), { name: 'InvalidInput' });
  assert.throws(() => answerMessage(1, offer), { name: 'InvalidInput' });
  assert.equal(answerMessage(1, { type: 'pranswer', sdp: 'v=0\r\n' }).description.type, 'pranswer');
  assert.throws(() => tokenAuth('', 'ses_x'), { name: 'InvalidInput' });
  assert.throws(() => tokenAuth('cat_x', 'acc_x'), { name: 'InvalidInput' });
  assert.throws(() => guestLinkAuth('ten_x', 'Kim', 'not-a-link'), { name: 'InvalidInput' });
  assert.throws(() => roomAuth('cat_x', 'ses_x', 'pw'), { name: 'InvalidInput' });
  // A message of exactly 256 KiB is sent, one byte more is refused.
  const fill = (n) => ({ v: 1, type: 'x', s: 'a'.repeat(n) });
  const base = JSON.stringify(fill(0)).length;
  assert.equal(encodeMessage(fill(MAX_MESSAGE_BYTES - base)).length, MAX_MESSAGE_BYTES);
  assert.throws(() => encodeMessage(fill(MAX_MESSAGE_BYTES - base + 1)), { name: 'InvalidInput' });
});

test('admitted.call is exactly 32 lowercase hex characters; anything else is Malformed naming call', () => {
  const good = '00112233445566778899aabbccddeeff';
  const admitted = (call) => {
    const m = { v: 1, type: 'admitted', session: 'ses_x', call, participant: 'acc_x', sender_index: 0, peers: [], mode: 'session_key', end_to_end: false, key_epoch: 0 };
    if (call === undefined) delete m.call;
    return JSON.stringify(m);
  };
  assert.equal(parseServerMessage(admitted(good)).call, good);
  for (const bad of [good.toUpperCase(), good.slice(1), `${good}0`, `${good.slice(0, 31)}g`, ` ${good.slice(1)}`, '', null, 5, [good], undefined]) {
    assert.throws(() => parseServerMessage(admitted(bad)), { name: 'Malformed', field: 'call' }, String(bad));
  }
  // The call id is checked first, as in Rust's ServerMessage::parse: other faults of the
  // same message do not hide it.
  const noCall = JSON.parse(admitted(undefined));
  for (const other of [{ session: 5 }, { extra: true }]) {
    assert.throws(() => parseServerMessage(JSON.stringify({ ...noCall, ...other })), { name: 'Malformed', field: 'call' }, JSON.stringify(other));
  }
});

test('server messages that are not version-1 JSON of a known shape are Malformed', () => {
  const ok = '{"v":1,"type":"peer_left","sender_index":2}';
  assert.equal(parseServerMessage(ok).sender_index, 2);
  for (const bad of [
    'not json',
    '[1]',
    'null',
    '{"v":"1","type":"peer_left","sender_index":2}',
    '{"v":2,"type":"peer_left","sender_index":2}',
    '{"type":"peer_left","sender_index":2}',
    '{"v":1,"type":"toString"}',
    '{"v":1,"type":"surprise"}',
    '{"v":1,"type":"peer_left"}',
    '{"v":1,"type":"peer_left","sender_index":65536}',
    '{"v":1,"type":"peer_left","sender_index":"2"}',
    '{"v":1,"type":"peer_left","sender_index":2,"extra":true}',
    '{"v":1,"type":"ended","reason":"bored"}',
    '{"v":1,"type":"offer","from":0,"description":{"type":"offer"}}',
    '{"v":1,"type":"admitted","session":"ses_x","call":"00112233445566778899aabbccddeeff","participant":"acc_x","sender_index":0,"peers":[{}],"mode":"session_key","end_to_end":false,"key_epoch":0}',
  ]) {
    assert.throws(() => parseServerMessage(bad), { name: 'Malformed' }, bad);
  }
  assert.equal(parseServerMessage(`{"v":1,"type":"pong"${' '.repeat(MAX_MESSAGE_BYTES - 21)}}`).type, 'pong');
  assert.throws(() => parseServerMessage(`{"v":1,"type":"pong"${' '.repeat(MAX_MESSAGE_BYTES - 20)}}`), { name: 'Malformed' });
});

/** A WebSocket stand-in: records what the client sends, delivers what the test says. */
class FakeSocket extends EventTarget {
  readyState = 0;
  /** @type {any[]} */ sent = [];
  open() {
    this.readyState = 1;
    this.dispatchEvent(new Event('open'));
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  deliver(msg) {
    this.dispatchEvent(new MessageEvent('message', { data: typeof msg === 'string' ? msg : JSON.stringify(msg) }));
  }
  close() {
    this.readyState = 3;
    this.dispatchEvent(new Event('close'));
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

test('the client joins, relays offer/answer/ice with to/from, pings, and reports the roster', async () => {
  const ws = new FakeSocket();
  const client = new SignalingClient(ws);
  const seen = [];
  for (const type of ['peer_joined', 'peer_left', 'answer', 'ice', 'key_epoch', 'protocol_error']) {
    client.addEventListener(type, (e) => seen.push([type, e.detail]));
  }
  const joined = client.join(tokenAuth('cat_secret', 'ses_a'));
  await tick();
  assert.deepEqual(ws.sent, [], 'nothing is sent before the socket opens');
  ws.open();
  await tick();
  assert.deepEqual(ws.sent, [{ v: 1, id: 1, type: 'join', auth: { kind: 'token', token: 'cat_secret', session: 'ses_a' } }]);
  const admitted = {
    v: 1, type: 'admitted', session: 'ses_a', call: '0123456789abcdef0123456789abcdef', participant: 'acc_b', sender_index: 1,
    peers: [{ participant: 'acc_a', sender_index: 0 }], mode: 'session_key', end_to_end: false, key_epoch: 0,
  };
  ws.deliver(admitted);
  assert.deepEqual(await joined, admitted);
  assert.equal(client.admitted.sender_index, 1);

  client.offer(0, { type: 'offer', sdp: 'v=0\r\n' });
  client.ice(0, { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 });
  client.ice(0, null);
  assert.deepEqual(ws.sent.slice(1).map((m) => [m.type, m.to]), [['offer', 0], ['ice', 0], ['ice', 0]]);

  ws.deliver({ v: 1, type: 'answer', from: 0, description: { type: 'answer', sdp: 'v=0\r\n' } });
  ws.deliver({ v: 1, type: 'ice', from: 0, candidate: { candidate: '' } });
  ws.deliver('{"v":1,"type":"answer","from":"0"}');
  ws.deliver({ v: 1, type: 'peer_joined', participant: 'gst_c', sender_index: 2 });
  ws.deliver({ v: 1, type: 'peer_left', sender_index: 0 });
  ws.deliver({ v: 1, type: 'key_epoch', epoch: 1 });
  assert.deepEqual(seen.map(([t, d]) => [t, d.from ?? d.sender_index ?? d.epoch ?? d.name]), [
    ['answer', 0], ['ice', 0], ['protocol_error', 'Malformed'], ['peer_joined', 2], ['peer_left', 0], ['key_epoch', 1],
  ]);

  const pong = client.ping();
  await tick();
  const ping = ws.sent.at(-1);
  assert.deepEqual(ping, { v: 1, id: 2, type: 'ping' });
  ws.deliver({ v: 1, type: 'pong', in_reply_to: 99 });
  ws.deliver({ v: 1, type: 'pong', in_reply_to: 2 });
  assert.deepEqual(await pong, { v: 1, type: 'pong', in_reply_to: 2 });

  client.leave();
  assert.deepEqual(ws.sent.at(-1), { v: 1, type: 'leave' });
  assert.equal(client.admitted, null);
});

test('a denied join rejects with its reason; an error answer rejects; the connection may try again', async () => {
  const ws = new FakeSocket();
  ws.open();
  const client = new SignalingClient(ws);
  const first = client.join(guestLinkAuth('ten_a', 'Kim', 'inv_a.00'));
  await tick();
  ws.deliver({ v: 1, type: 'denied', reason: 'too_many_requests', retry_after_ms: 30000, in_reply_to: 1 });
  await assert.rejects(first, { name: 'Denied', reason: 'too_many_requests', retryAfterMs: 30000 });
  const second = client.join(tokenAuth('cat_a', 'ses_a'));
  await tick();
  ws.deliver({ v: 1, type: 'error', code: 'already_joined', in_reply_to: 2 });
  await assert.rejects(second, { name: 'Refused', code: 'already_joined' });
  // A room: `waiting` first, then `admitted` without in_reply_to settles the join.
  const third = client.join(roomAuth('cat_a', 'rom_a', 'pw'));
  const waiting = [];
  client.addEventListener('waiting', (e) => waiting.push(e.detail.session));
  await tick();
  ws.deliver({ v: 1, type: 'waiting', session: 'ses_m' });
  ws.deliver({
    v: 1, type: 'admitted', session: 'ses_m', call: 'fedcba9876543210fedcba9876543210', participant: 'acc_a', sender_index: 0,
    peers: [], mode: 'end_to_end', end_to_end: true, key_epoch: 3,
  });
  assert.equal((await third).session, 'ses_m');
  assert.deepEqual(waiting, ['ses_m']);
});

test('ended and close: pending requests reject with Closed, sending afterwards throws', async () => {
  const ws = new FakeSocket();
  ws.open();
  const client = new SignalingClient(ws);
  const ended = [];
  let closed = false;
  client.addEventListener('ended', (e) => ended.push(e.detail.reason));
  client.addEventListener('close', () => {
    closed = true;
  });
  const pong = client.ping();
  await tick();
  ws.deliver({ v: 1, type: 'ended', reason: 'session_closed' });
  ws.close();
  await assert.rejects(pong, { name: 'Closed' });
  assert.deepEqual(ended, ['session_closed']);
  assert.ok(closed && client.closed);
  assert.throws(() => client.offer(0, { type: 'offer', sdp: 'v=0\r\n' }), { name: 'Closed' });
  // A socket that closes before it opens: the join rejects, nothing was sent.
  const never = new FakeSocket();
  const join = new SignalingClient(never).join(tokenAuth('cat_a', 'ses_a'));
  never.close();
  await assert.rejects(join, { name: 'Closed' });
  assert.deepEqual(never.sent, []);
});

test('keep-alive: a ping after exactly keepAliveMs without sending, none a tick before; any send restarts it; none after close', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    assert.equal(KEEP_ALIVE_MS, 20_000);
    assert.throws(() => new SignalingClient(new FakeSocket(), { keepAliveMs: 999 }), { name: 'InvalidInput' });
    const ws = new FakeSocket();
    ws.open();
    const client = new SignalingClient(ws);
    const flush = () => new Promise((r) => setImmediate(r));
    await flush();
    const pings = () => ws.sent.filter((m) => m.type === 'ping');
    mock.timers.tick(KEEP_ALIVE_MS - 1);
    assert.deepEqual(pings(), [], 'one tick before');
    mock.timers.tick(1);
    assert.deepEqual(pings(), [{ v: 1, type: 'ping' }], 'exactly at the interval');
    // Another send restarts the interval.
    mock.timers.tick(KEEP_ALIVE_MS / 2);
    client.ice(0, null);
    mock.timers.tick(KEEP_ALIVE_MS - 1);
    assert.equal(pings().length, 1);
    mock.timers.tick(1);
    assert.equal(pings().length, 2);
    // Several minutes of silence: one ping per interval.
    for (let i = 0; i < 10; i++) mock.timers.tick(KEEP_ALIVE_MS);
    assert.equal(pings().length, 12);
    ws.close();
    for (let i = 0; i < 10; i++) mock.timers.tick(KEEP_ALIVE_MS);
    assert.equal(pings().length, 12, 'nothing after close');
    // A custom interval.
    const ws2 = new FakeSocket();
    ws2.open();
    new SignalingClient(ws2, { keepAliveMs: 1000 });
    await flush();
    mock.timers.tick(1000);
    assert.deepEqual(ws2.sent, [{ v: 1, type: 'ping' }]);
    ws2.close();
  } finally {
    mock.timers.reset();
  }
});
