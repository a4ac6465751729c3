// SPDX-License-Identifier: Apache-2.0 OR MIT
// Self-test of cai-datachannel.mjs: `node --test cai-rtc/js/`. The layout is re-derived
// here by hand (header bytes, item id, context) and opened with cai-envelope.mjs directly;
// the Rust side of the same format is exercised against a real browser by
// cai-rtc/tests/browser.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEnvelope } from '../../cai-crypto/js/cai-envelope.mjs';
import { ChatChannel, HEADER_LEN, encodeHeader, parseMessage, TYPE_CHAT, TYPE_FILE_OFFER } from './cai-datachannel.mjs';

const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const keyId = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const epoch = 5;
const call = '0123456789abcdef0123456789abcdef';
const session = { tenant: 'ten_1', session: 'ses_1', call };

async function pair() {
  const a = await ChatChannel.create({ ...session, senderIndex: 0 }, key, keyId, epoch);
  const b = await ChatChannel.create({ ...session, senderIndex: 1 }, key, keyId, epoch);
  return { a, b };
}

test('a chat message is header ‖ envelope whose item id is "cai-dc2" ‖ call id ‖ header', async () => {
  const { a } = await pair();
  const first = await a.sealChat('hello');
  const second = await a.sealChat('again');
  assert.deepEqual([...first.subarray(0, HEADER_LEN)], [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...second.subarray(0, HEADER_LEN)], [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const header = first.subarray(0, HEADER_LEN);
  const item = new Uint8Array([...new TextEncoder().encode('cai-dc2'), ...Buffer.from(call, 'hex'), ...header]);
  assert.equal(item.length, 35);
  const ctx = { tenant: session.tenant, session: session.session, item, version: 1, kind: 'Message' };
  const plain = await openEnvelope(key, keyId, epoch, ctx, first.subarray(HEADER_LEN));
  assert.equal(new TextDecoder().decode(plain), 'hello');
  assert.deepEqual(parseMessage(second), { type: TYPE_CHAT, sender: 0, seq: 1n, header: second.subarray(0, 12), envelope: second.subarray(12) });
});

test('round trip; replays, reordering and own messages refused; only authentic messages move the window', async () => {
  const { a, b } = await pair();
  const m0 = await a.sealChat('zero');
  const m1 = await a.sealChat('one');
  const m2 = await a.sealChat('two ✓');
  assert.deepEqual(await b.open(m1), { sender: 0, seq: 1n, text: 'one' });
  await assert.rejects(b.open(m1), { name: 'Replayed' });
  await assert.rejects(b.open(m0), { name: 'Replayed' });
  await assert.rejects(a.open(m2), { name: 'OwnSender' });
  const forged = m2.slice();
  forged[forged.length - 1] ^= 1;
  await assert.rejects(b.open(forged), { name: 'AuthenticationFailed' });
  assert.equal((await b.open(m2)).text, 'two ✓');
});

test('the header is bound: changing sender or sequence number fails to open', async () => {
  const { a } = await pair();
  const c = await ChatChannel.create({ ...session, senderIndex: 2 }, key, keyId, epoch);
  const m = await a.sealChat('bound');
  for (const i of [3, 11]) {
    const bad = m.slice();
    bad[i] ^= 1;
    await assert.rejects(c.open(bad), { name: 'AuthenticationFailed' });
  }
  const other = await ChatChannel.create({ ...session, session: 'ses_2', senderIndex: 2 }, key, keyId, epoch);
  await assert.rejects(other.open(m), { name: 'AuthenticationFailed' });
});

test('a message sealed in one call instance does not open in another; call ids are checked', async () => {
  const { a } = await pair();
  const m = await a.sealChat('from the earlier call');
  // Same session, key and indices, the call id as bytes: the same call opens it.
  const same = await ChatChannel.create({ ...session, call: Buffer.from(call, 'hex'), senderIndex: 1 }, key, keyId, epoch);
  assert.equal((await same.open(m)).text, 'from the earlier call');
  const later = await ChatChannel.create({ ...session, call: 'fedcba9876543210fedcba9876543210', senderIndex: 1 }, key, keyId, epoch);
  await assert.rejects(later.open(m), { name: 'AuthenticationFailed' });
  for (const bad of [undefined, call.toUpperCase(), call.slice(1), `${call}0`, new Uint8Array(15), 7]) {
    await assert.rejects(ChatChannel.create({ ...session, call: bad, senderIndex: 1 }, key, keyId, epoch), { name: 'InvalidInput' }, String(bad));
  }
});

test('malformed headers: exactly 12 bytes parse, 11 are truncated; version, type, file messages', async () => {
  const h = encodeHeader({ type: TYPE_CHAT, sender: 0xffff, seq: (1n << 64n) - 1n });
  assert.equal(parseMessage(h).seq, (1n << 64n) - 1n);
  assert.throws(() => parseMessage(h.subarray(0, 11)), { name: 'Truncated' });
  assert.throws(() => parseMessage(Uint8Array.of(2, ...h.subarray(1))), { name: 'UnsupportedVersion' });
  assert.throws(() => parseMessage(Uint8Array.of(1, 4, ...h.subarray(2))), { name: 'UnknownType' });
  const { b } = await pair();
  await assert.rejects(b.open(encodeHeader({ type: TYPE_FILE_OFFER, sender: 0, seq: 0n })), { name: 'Unsupported' });
  assert.throws(() => encodeHeader({ type: TYPE_CHAT, sender: 0x10000, seq: 0n }), { name: 'InvalidInput' });
  assert.throws(() => encodeHeader({ type: TYPE_CHAT, sender: 0, seq: 1n << 64n }), { name: 'InvalidInput' });
});

test('a channel with a remote index refuses messages claiming anyone else', async () => {
  // Alice (0) seals to Carol; Carol forwards it to Bob on the Carol–Bob channel.
  const alice = await ChatChannel.create({ ...session, senderIndex: 0, remoteIndex: 2 }, key, keyId, epoch);
  const bobFromCarol = await ChatChannel.create({ ...session, senderIndex: 1, remoteIndex: 2 }, key, keyId, epoch);
  const forwarded = await alice.sealChat('for Carol only');
  await assert.rejects(bobFromCarol.open(forwarded), { name: 'ForeignSender' });
  const carol = await ChatChannel.create({ ...session, senderIndex: 2, remoteIndex: 1 }, key, keyId, epoch);
  assert.equal((await bobFromCarol.open(await carol.sealChat('hi Bob'))).text, 'hi Bob');
  // Without a remote index (the control), the same forwarded message opens.
  const unchecked = await ChatChannel.create({ ...session, senderIndex: 1 }, key, keyId, epoch);
  assert.equal((await unchecked.open(forwarded)).text, 'for Carol only');
  await assert.rejects(ChatChannel.create({ ...session, senderIndex: 1, remoteIndex: 0x10000 }, key, keyId, epoch), { name: 'InvalidInput' });
});
