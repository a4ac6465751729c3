// SPDX-License-Identifier: Apache-2.0 OR MIT
// Self-test of cai-sframe.mjs: `node --test cai-rtc/js/` from the repository root.
// The RFC 9605 vectors (header encodings, key schedule, exact ciphertexts) come from
// cai-crypto/tests/vectors/sframe/; the cai derivations (docs/SFRAME.md §3, the rtc
// contract's session media secret) are checked against node:crypto's HKDF, an
// implementation independent of WebCrypto's code path in the module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { hkdfSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import {
  SUITE_AES_256_GCM_SHA512_128,
  SUITE_AES_128_GCM_SHA256_128,
  COUNTER_TOO_OLD,
  REPLAYED_FRAME,
  MAX_FRAME_LEN,
  SframeKey,
  SframeSender,
  SframeReceiver,
  encodeHeader,
  parseHeader,
  mediaKeyId,
  callIdBytes,
  sessionMediaSecret,
} from './cai-sframe.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const vectors = join(here, '../../cai-crypto/tests/vectors');
const hex = (/** @type {string} */ s) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (/** @type {Uint8Array} */ b) => Buffer.from(b).toString('hex');
const te = new TextEncoder();

/** JSON with u64 `kid`/`ctr` fields kept exact (as BigInt). */
function loadVectors(/** @type {string} */ path) {
  const text = readFileSync(path, 'utf8').replace(/"(kid|ctr)":\s*(\d+)/g, '"$1":"$2"');
  return JSON.parse(text, (k, v) => (k === 'kid' || k === 'ctr' ? BigInt(v) : v));
}
const rfc = loadVectors(join(vectors, 'sframe/test-vectors-rfc9605-025d568.json'));

const secret = (/** @type {number} */ seed) => Uint8Array.from({ length: 32 }, (_, i) => (seed * 31 + i) & 0xff);

/** docs/SFRAME.md §3 with node:crypto: HKDF-SHA256(salt "", IKM secret, info "cai sframe v1" ‖ suite ‖ KID). */
function documentedBaseKey(/** @type {number} */ suite, /** @type {bigint} */ kid, /** @type {Uint8Array} */ s) {
  const info = Buffer.alloc(13 + 2 + 8);
  info.write('cai sframe v1', 0, 'ascii');
  info.writeUInt16BE(suite, 13);
  info.writeBigUInt64BE(kid, 15);
  return new Uint8Array(hkdfSync('sha256', s, Buffer.alloc(0), info, 32));
}

/** docs/SFRAME.md §3a's session media secret with node:crypto. */
function documentedSessionSecret(dek, sessionId, callId, epoch, sender) {
  const sid = Buffer.from(sessionId, 'utf8');
  const info = Buffer.alloc(sid.length + 1 + 16 + 4 + 2);
  sid.copy(info);
  Buffer.from(callId, 'hex').copy(info, sid.length + 1);
  info.writeUInt32BE(epoch, sid.length + 17);
  info.writeUInt16BE(sender, sid.length + 21);
  return new Uint8Array(hkdfSync('sha256', dek, Buffer.from('cai sframe session media v2', 'ascii'), info, 32));
}

async function rejects(promise, name, message) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    if (message) assert.equal(e.message, message);
    return true;
  });
}

test('RFC 9605 header vectors encode and parse exactly', () => {
  assert.ok(rfc.header.length > 200);
  for (const v of rfc.header) {
    assert.equal(toHex(encodeHeader(v.kid, v.ctr)), v.encoded, `kid ${v.kid} ctr ${v.ctr}`);
    const enc = hex(v.encoded);
    assert.deepEqual(parseHeader(enc), { kid: v.kid, counter: v.ctr, headerLen: enc.length });
    if (enc.length > 1) {
      assert.throws(() => parseHeader(enc.subarray(0, enc.length - 1)), { name: 'Truncated' });
    }
  }
});

test('RFC 9605 AES-GCM vectors: salt, nonce and exact ciphertexts (suites 4 and 5); CTR suites refused', async () => {
  let gcm = 0;
  for (const v of rfc.sframe) {
    if (v.cipher_suite !== SUITE_AES_128_GCM_SHA256_128 && v.cipher_suite !== SUITE_AES_256_GCM_SHA512_128) {
      await rejects(SframeKey.fromBaseKey(v.cipher_suite, v.kid, hex(v.base_key)), 'UnsupportedSuite');
      continue;
    }
    gcm++;
    const key = await SframeKey.fromBaseKey(v.cipher_suite, v.kid, hex(v.base_key));
    assert.equal(toHex(key.nonce(v.ctr)), v.nonce);
    const sender = new SframeSender(key, { initialCounter: v.ctr });
    const ct = await sender.protect(hex(v.pt), hex(v.metadata));
    assert.equal(toHex(ct), v.ct);
    const { headerLen } = parseHeader(ct);
    assert.equal(toHex(ct.subarray(0, headerLen)) + v.metadata, v.aad);
    const rx = new SframeReceiver();
    rx.addKey(key);
    const out = await rx.unprotect(hex(v.ct), hex(v.metadata));
    assert.equal(toHex(out.plaintext), v.pt);
    assert.equal(out.kid, v.kid);
    assert.equal(out.counter, v.ctr);
  }
  assert.equal(gcm, 2);
});

test('cai base key (SFRAME.md §3): fromMediaSecret equals the documented HKDF, per suite and KID', async () => {
  const s = secret(12);
  const seen = new Set();
  for (const suite of [SUITE_AES_256_GCM_SHA512_128, SUITE_AES_128_GCM_SHA256_128]) {
    for (const [epoch, sender] of [[1, 1], [1, 2], [2, 1], [0xffffffff, 0xffff]]) {
      const kid = mediaKeyId(epoch, sender);
      const base = documentedBaseKey(suite, kid, s);
      seen.add(toHex(base));
      const a = new SframeSender(await SframeKey.fromMediaSecret(suite, epoch, sender, s), { initialCounter: 1000n });
      const b = new SframeSender(await SframeKey.fromBaseKey(suite, kid, base), { initialCounter: 1000n });
      assert.equal(toHex(await a.protect(te.encode('interop'), te.encode('hdr'))), toHex(await b.protect(te.encode('interop'), te.encode('hdr'))));
    }
  }
  assert.equal(seen.size, 8);
});

test('KID layout: epoch << 16 | sender index, limits exactly at and one past', () => {
  assert.equal(mediaKeyId(0, 0), 0n);
  assert.equal(mediaKeyId(1, 2), 0x10002n);
  assert.equal(mediaKeyId(0xffffffff, 0xffff), (1n << 48n) - 1n);
  assert.throws(() => mediaKeyId(0x100000000, 0), { name: 'InvalidInput' });
  assert.throws(() => mediaKeyId(0, 0x10000), { name: 'InvalidInput' });
  assert.throws(() => mediaKeyId(-1, 0), { name: 'InvalidInput' });
});

test('session media secret (§3a) equals the documented HKDF and separates sessions, calls, epochs, senders', async () => {
  const dek = secret(3);
  const a = '00112233445566778899aabbccddeeff';
  const b = '00112233445566778899aabbccddeefe';
  const seen = new Set();
  for (const [sid, call, epoch, sender] of [['ses_a', a, 0, 0], ['ses_a', a, 0, 1], ['ses_a', a, 1, 0], ['ses_b', a, 0, 0], ['ses_a', b, 0, 0], ['ses_a', a, 0xffffffff, 0xffff]]) {
    const got = await sessionMediaSecret(dek, sid, call, epoch, sender);
    assert.equal(toHex(got), toHex(documentedSessionSecret(dek, sid, call, epoch, sender)));
    assert.equal(toHex(await sessionMediaSecret(dek, sid, hex(call), epoch, sender)), toHex(got), 'hex or bytes');
    seen.add(toHex(got));
  }
  assert.equal(seen.size, 6);
  await rejects(sessionMediaSecret(dek, '', a, 0, 0), 'InvalidInput');
  await rejects(sessionMediaSecret(dek, 'ses\0a', a, 0, 0), 'InvalidInput');
  await rejects(sessionMediaSecret(dek, 'x'.repeat(256), a, 0, 0), 'InvalidInput');
  assert.equal((await sessionMediaSecret(dek, 'x'.repeat(255), a, 0, 0)).length, 32);
  await rejects(sessionMediaSecret(dek.subarray(1), 'ses_a', a, 0, 0), 'InvalidInput');
  for (const bad of [a.toUpperCase(), a.slice(1), `${a}0`, `${a.slice(0, 31)}g`, ` ${a.slice(1)}`, hex(a).subarray(1), undefined]) {
    await rejects(sessionMediaSecret(dek, 'ses_a', bad, 0, 0), 'InvalidInput');
    assert.throws(() => callIdBytes(bad), { name: 'InvalidInput' });
  }
  assert.equal(toHex(callIdBytes(a)), a);
});

// The known-answer file of cai-crypto's `session_media_secret` (docs/SFRAME.md §3a):
// every vector's HKDF info, media secret, base key and exact frame.
const sessionVectors = join(vectors, 'cai/sframe_session_v2.json');
test('session media secret and frames: the Rust known-answer vectors (sframe_session_v2.json)', async () => {
  assert.ok(existsSync(sessionVectors), sessionVectors);
  const doc = loadVectors(sessionVectors);
  assert.equal(doc.format, 'cai sframe session media v2');
  assert.ok(doc.vectors.length >= 4);
  assert.ok(new Set(doc.vectors.map((v) => v.call_id)).size >= 3);
  for (const v of doc.vectors) {
    const secret = await sessionMediaSecret(hex(v.dek), v.session_id, v.call_id, v.epoch, v.sender_index);
    assert.equal(toHex(secret), v.media_secret, v.name);
    assert.equal(toHex(documentedSessionSecret(hex(v.dek), v.session_id, v.call_id, v.epoch, v.sender_index)), v.media_secret, v.name);
    const tail = Buffer.alloc(6);
    tail.writeUInt32BE(v.epoch, 0);
    tail.writeUInt16BE(v.sender_index, 4);
    const info = Buffer.concat([Buffer.from(v.session_id, 'utf8'), Buffer.from([0]), Buffer.from(v.call_id, 'hex'), tail]);
    assert.equal(info.toString('hex'), v.hkdf_info, v.name);
    assert.equal(toHex(te.encode('cai sframe session media v2')), v.hkdf_salt, v.name);
    assert.equal(v.kid, mediaKeyId(v.epoch, v.sender_index), v.name);
    assert.equal(toHex(documentedBaseKey(v.suite, v.kid, secret)), v.base_key, v.name);
    const key = await SframeKey.fromMediaSecret(v.suite, v.epoch, v.sender_index, secret);
    const frame = await new SframeSender(key, { initialCounter: BigInt(v.counter) }).protect(hex(v.plaintext), hex(v.metadata));
    assert.equal(toHex(frame), v.frame, v.name);
    const rx = new SframeReceiver();
    rx.addKey(key);
    assert.equal(toHex((await rx.unprotect(hex(v.frame), hex(v.metadata))).plaintext), v.plaintext, v.name);
  }
});

async function pair(suite = SUITE_AES_256_GCM_SHA512_128, options = {}) {
  const s = secret(7);
  const tx = new SframeSender(await SframeKey.fromMediaSecret(suite, 3, 9, s), options);
  const rx = new SframeReceiver();
  rx.addKey(await SframeKey.fromMediaSecret(suite, 3, 9, s));
  return { tx, rx, s };
}

test('a sender starts below 2^63 at random and counts up by one; round trips with metadata', async () => {
  const starts = new Set();
  for (let i = 0; i < 8; i++) {
    const { tx, rx } = await pair();
    const a = await tx.protect(te.encode('one'), te.encode('m'));
    const b = await tx.protect(te.encode('two'));
    const ha = parseHeader(a);
    const hb = parseHeader(b);
    assert.ok(ha.counter < 1n << 63n);
    assert.equal(hb.counter, ha.counter + 1n);
    assert.equal(ha.kid, mediaKeyId(3, 9));
    starts.add(ha.counter);
    assert.equal(new TextDecoder().decode((await rx.unprotect(a, te.encode('m'))).plaintext), 'one');
    assert.equal(new TextDecoder().decode((await rx.unprotect(b)).plaintext), 'two');
    await rejects(rx.unprotect(a, te.encode('m')), 'Sframe', REPLAYED_FRAME);
  }
  assert.equal(starts.size, 8);
});

test('concurrent protects never share a counter', async () => {
  const { tx } = await pair();
  const frames = await Promise.all(Array.from({ length: 50 }, () => tx.protect(new Uint8Array(10))));
  assert.equal(new Set(frames.map((f) => parseHeader(f).counter)).size, 50);
});

test('counter exhausted at 2^64 - 1: that frame is sent, the next is refused', async () => {
  const { tx } = await pair(SUITE_AES_256_GCM_SHA512_128, { initialCounter: (1n << 64n) - 1n });
  assert.equal(parseHeader(await tx.protect(new Uint8Array(1))).counter, (1n << 64n) - 1n);
  await rejects(tx.protect(new Uint8Array(1)), 'LimitExceeded');
});

test('replay window: exactly at its edge accepted, one past too old, only authenticated frames recorded', async () => {
  const { tx, rx } = await pair(SUITE_AES_256_GCM_SHA512_128, { initialCounter: 1000n });
  const frames = [];
  for (let i = 0; i < 130; i++) frames.push(await tx.protect(Uint8Array.of(i)));
  await rx.unprotect(frames[129]); // newest = 1129
  await rejects(rx.unprotect(frames[1]), 'Sframe', COUNTER_TOO_OLD); // 1001 = newest - 128
  assert.deepEqual((await rx.unprotect(frames[2])).plaintext, Uint8Array.of(2)); // newest - 127
  await rejects(rx.unprotect(frames[2]), 'Sframe', REPLAYED_FRAME);
  // A forged frame at a fresh counter fails and does not burn the counter.
  const forged = frames[50].slice();
  forged[forged.length - 1] ^= 1;
  await rejects(rx.unprotect(forged), 'AuthenticationFailed');
  assert.deepEqual((await rx.unprotect(frames[50])).plaintext, Uint8Array.of(50));
});

test('errors in Rust order: size, header, tag room, key, replay, authentication', async () => {
  const { tx, rx } = await pair();
  const ct = await tx.protect(te.encode('payload'), te.encode('meta'));
  const { headerLen } = parseHeader(ct);
  await rejects(rx.unprotect(new Uint8Array(0)), 'Truncated');
  await rejects(rx.unprotect(ct.subarray(0, headerLen + 15)), 'Truncated');
  await rejects(rx.unprotect(new Uint8Array(MAX_FRAME_LEN + 1)), 'TooLarge');
  await rejects(rx.unprotect(ct, new Uint8Array(MAX_FRAME_LEN + 1)), 'TooLarge');
  await rejects(rx.unprotect(ct, te.encode('other')), 'AuthenticationFailed');
  // Every bit flip after the header fails authentication; no plaintext comes out.
  for (let i = headerLen; i < ct.length; i++) {
    const bad = ct.slice();
    bad[i] ^= 0x01;
    await rejects(rx.unprotect(bad, te.encode('meta')), 'AuthenticationFailed');
  }
  const other = new SframeSender(await SframeKey.fromMediaSecret(SUITE_AES_256_GCM_SHA512_128, 3, 10, secret(7)));
  await assert.rejects(rx.unprotect(await other.protect(new Uint8Array(3))), (e) => {
    assert.equal(e.name, 'UnknownMediaKey');
    assert.equal(e.kid, mediaKeyId(3, 10));
    assert.match(e.message, /epoch 3, sender 10/);
    return true;
  });
  // A key of the wrong secret under the right KID: authentication fails.
  const wrong = new SframeReceiver();
  wrong.addKey(await SframeKey.fromMediaSecret(SUITE_AES_256_GCM_SHA512_128, 3, 9, secret(8)));
  await rejects(wrong.unprotect(ct, te.encode('meta')), 'AuthenticationFailed');
  assert.equal((await rx.unprotect(ct, te.encode('meta'))).counter, parseHeader(ct).counter);
});

test('epochs: removeEpochsBefore drops old keys; their frames become unknown keys', async () => {
  const s = secret(1);
  const rx = new SframeReceiver();
  for (const e of [1, 2, 3]) rx.addKey(await SframeKey.fromMediaSecret(SUITE_AES_256_GCM_SHA512_128, e, 0, s));
  const old = new SframeSender(await SframeKey.fromMediaSecret(SUITE_AES_256_GCM_SHA512_128, 1, 0, s));
  const frame = await old.protect(new Uint8Array(4));
  assert.equal(rx.removeEpochsBefore(3), 2);
  await rejects(rx.unprotect(frame), 'UnknownMediaKey');
  assert.throws(() => new SframeReceiver({ replayWindow: 0 }), { name: 'InvalidInput' });
  assert.throws(() => new SframeReceiver({ replayWindow: 65537 }), { name: 'InvalidInput' });
  assert.ok(new SframeReceiver({ replayWindow: 65536 }));
});
