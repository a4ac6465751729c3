// SPDX-License-Identifier: Apache-2.0 OR MIT
// Self-test of the reference module: `node --test cai-crypto/js/`.
// Checks the shared fixed vectors (also checked by the Rust test) against the independent
// derivation in test_support.mjs, and the shipped module's output against that derivation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as shipped from './cai-envelope.mjs';
import {
  HEADER_LEN,
  MODE_BINDING_LEN,
  NONCE_SEQ_LEN,
  OVERHEAD,
  Sealer,
  openEnvelope,
  parseHeader,
  sealEnvelope,
} from './cai-envelope.mjs';
import {
  concat,
  encodeContext,
  fromHex,
  hkdfInfo,
  nonceOf,
  randomBytes,
  sealWith,
  toHex,
} from './test_support.mjs';

const vectors = JSON.parse(
  readFileSync(new URL('../tests/vectors/cai/envelope_v1.json', import.meta.url), 'utf8'),
);

const ctxOf = (c) => ({
  tenant: fromHex(c.tenant),
  session: fromHex(c.session),
  item: fromHex(c.item),
  version: c.version,
  kind: c.kind,
  ...(c.mode === undefined ? {} : { mode: fromHex(c.mode) }),
});

/** The context as test_support encodes it: byte ids and a kind code. */
const bytesCtx = (c) => ({
  tenant: typeof c.tenant === 'string' ? new TextEncoder().encode(c.tenant) : c.tenant,
  session: typeof c.session === 'string' ? new TextEncoder().encode(c.session) : c.session,
  item: typeof c.item === 'string' ? new TextEncoder().encode(c.item) : c.item,
  version: c.version,
  kind: typeof c.kind === 'string' ? shipped.CONTENT_KINDS[c.kind] : c.kind,
  ...(c.mode === undefined ? {} : { mode: c.mode }),
});

/**
 * Re-seals with the salt and nonce an envelope carries, following the spec step by step:
 * equal bytes mean the shipped module sealed exactly as ENVELOPE.md says.
 */
async function resealIndependently(key, keyId, epoch, ctx, plaintext, envelope) {
  const h = parseHeader(envelope);
  const again = await sealWith({ key, keyId, epoch, salt: h.salt, nonce: h.nonce, context: bytesCtx(ctx), plaintext });
  return toHex(again.envelope);
}

test('vector file has the required cases', () => {
  assert.ok(vectors.valid.length >= 2);
  assert.ok(vectors.valid.some((v) => v.plaintext === ''));
  assert.ok(vectors.invalid.some((v) => v.name.startsWith('wrong-context')));
});

for (const v of vectors.valid) {
  test(`valid vector ${v.name}: every intermediate value and the envelope`, async () => {
    const key = fromHex(v.key);
    const keyId = fromHex(v.key_id);
    const salt = fromHex(v.salt);
    const nonce = nonceOf(v.nonce_seq, fromHex(v.nonce_random));
    assert.equal(toHex(hkdfInfo(keyId, v.epoch)), v.hkdf_info);
    assert.equal(toHex(nonce), v.nonce);
    const s = await sealWith({ key, keyId, epoch: v.epoch, salt, nonce, context: ctxOf(v.context), plaintext: fromHex(v.plaintext) });
    assert.equal(toHex(s.subkey), v.subkey);
    assert.equal(toHex(s.commitment), v.commitment);
    assert.equal(toHex(s.header), v.header);
    assert.equal(toHex(s.contextEncoding), v.context_encoding);
    assert.equal(toHex(s.aad), v.aad);
    assert.equal(v.aad, v.header + v.context_encoding);
    assert.equal(toHex(s.envelope), v.envelope);
    assert.equal(s.envelope.length, OVERHEAD + v.plaintext.length / 2);
    // The shipped module opens it and reads its header.
    const env = fromHex(v.envelope);
    const pt = await openEnvelope(key, keyId, v.epoch, ctxOf(v.context), env);
    assert.equal(toHex(pt), v.plaintext);
    const h = parseHeader(env);
    assert.deepEqual([toHex(h.keyId), h.epoch, toHex(h.salt), toHex(h.nonce)], [v.key_id, v.epoch, v.salt, v.nonce]);
  });
}

for (const v of vectors.invalid) {
  test(`invalid vector ${v.name} fails with ${v.error}`, async () => {
    await assert.rejects(
      openEnvelope(fromHex(v.key), fromHex(v.key_id), v.epoch, ctxOf(v.context), fromHex(v.envelope)),
      { name: v.error },
    );
  });
}

test('a Sealer: one salt, sequence numbers 0, 1, 2, … and fresh random nonce bytes, sealed as specified', async () => {
  const key = randomBytes(32);
  const keyId = randomBytes(16);
  const sealer = await Sealer.create(key, keyId, 3);
  const ctx = { tenant: 't', session: 's', item: 'i', version: 9, kind: 'File' };
  const salts = new Set();
  const randomParts = new Set();
  const lens = [0, 1, 15, 16, 17, 1000, 70_000];
  for (const [i, len] of lens.entries()) {
    const pt = randomBytes(len);
    const env = await sealer.seal(ctx, pt);
    const h = parseHeader(env);
    salts.add(toHex(h.salt));
    assert.equal(new DataView(h.nonce.buffer).getUint32(0, false), i, 'sequence number');
    randomParts.add(toHex(h.nonce.subarray(NONCE_SEQ_LEN)));
    assert.deepEqual(await openEnvelope(key, keyId, 3, ctx, env), pt);
    assert.equal(await resealIndependently(key, keyId, 3, ctx, pt, env), toHex(env));
  }
  assert.equal(salts.size, 1);
  assert.equal(randomParts.size, lens.length);
  const other = parseHeader(await (await Sealer.create(key, keyId, 3)).seal(ctx, new Uint8Array()));
  assert.ok(!salts.has(toHex(other.salt)));
  assert.equal(toHex(other.nonce.subarray(0, NONCE_SEQ_LEN)), '00000000');
});

test('concurrent seal() calls never share a sequence number', async () => {
  const key = randomBytes(32);
  const keyId = randomBytes(16);
  const sealer = await Sealer.create(key, keyId, 0);
  const ctx = { tenant: 't', session: 's', item: 'i', version: 0, kind: 1 };
  const envs = await Promise.all(Array.from({ length: 50 }, (_, i) => sealer.seal(ctx, Uint8Array.of(i))));
  const seqs = envs.map((e) => new DataView(parseHeader(e).nonce.buffer).getUint32(0, false));
  assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
});

test('one-shot seals: a fresh salt each, sequence number 0, and no way to fix salt or nonce', async () => {
  const key = randomBytes(32);
  const keyId = randomBytes(16);
  const ctx = { tenant: 't', session: 's', item: 'i', version: 0, kind: 1 };
  const pt = Uint8Array.of(1, 2, 3);
  // The options the module once took for test vectors are ignored now.
  const opts = { salt: new Uint8Array(32), nonceCounter: 5 };
  const a = await sealEnvelope(key, keyId, 0, ctx, pt, opts);
  const b = await sealEnvelope(key, keyId, 0, ctx, pt, opts);
  const [ha, hb] = [parseHeader(a), parseHeader(b)];
  assert.notEqual(toHex(ha.salt), toHex(hb.salt));
  assert.notEqual(toHex(ha.salt), '00'.repeat(32));
  assert.equal(toHex(ha.nonce.subarray(0, NONCE_SEQ_LEN)), '00000000');
  assert.equal(await resealIndependently(key, keyId, 0, ctx, pt, a), toHex(a));
  assert.throws(() => new Sealer(), TypeError);
});

test('every single-bit flip and every truncation is rejected', async () => {
  const key = randomBytes(32);
  const keyId = randomBytes(16);
  const ctx = { tenant: 't', session: 's', item: 'i', version: 0, kind: 1 };
  const env = await sealEnvelope(key, keyId, 0, ctx, new Uint8Array([1, 2, 3]));
  for (let i = 0; i < env.length; i++) {
    const bad = env.slice();
    bad[i] ^= 1 << (i % 8);
    await assert.rejects(openEnvelope(key, keyId, 0, ctx, bad));
  }
  for (let n = 0; n < env.length; n++) {
    await assert.rejects(openEnvelope(key, keyId, 0, ctx, env.subarray(0, n)));
  }
  await assert.rejects(openEnvelope(key, keyId, 0, ctx, Uint8Array.of(...env, 0)), {
    name: 'AuthenticationFailed',
  });
  assert.equal(HEADER_LEN, 102);
});

test('context validation and encoding', async () => {
  const key = randomBytes(32);
  const keyId = randomBytes(16);
  const pt = Uint8Array.of(7);
  const bad = [
    [{ tenant: '', session: 's', item: 'i', version: 0, kind: 1 }, 'InvalidContext'],
    [{ tenant: 't', session: new Uint8Array(256), item: 'i', version: 0, kind: 1 }, 'InvalidContext'],
    [{ tenant: 't', session: 's', item: 'i', version: 0, kind: 8 }, 'Malformed'],
    [{ tenant: 't', session: 's', item: 'i', version: 0, kind: 'Letter' }, 'Malformed'],
  ];
  for (const [ctx, name] of bad) {
    await assert.rejects(sealEnvelope(key, keyId, 0, ctx, pt), { name });
  }
  const good = { tenant: 't1', session: 's', item: 'item', version: 7, kind: 'Note' };
  assert.equal(
    toHex(encodeContext(bytesCtx(good))),
    toHex(new TextEncoder().encode('\x02t1\x01s\x04item\x00\x00\x00\x07\x02')),
  );
  const env = await sealEnvelope(key, keyId, 0, good, pt);
  assert.equal(await resealIndependently(key, keyId, 0, good, pt, env), toHex(env));
  await assert.rejects(openEnvelope(key, keyId, 0, bad[0][0], env), { name: 'InvalidContext' });
});

test('a mode binding follows the kind and must be 32 bytes', async () => {
  const key = randomBytes(32);
  const keyId = randomBytes(16);
  const pt = Uint8Array.of(7);
  const mode = new Uint8Array(MODE_BINDING_LEN).fill(0xab);
  const ctx = { tenant: 't1', session: 's', item: 'item', version: 7, kind: 'Note', mode };
  const expected = concat(new TextEncoder().encode('\x02t1\x01s\x04item\x00\x00\x00\x07\x02\x01'), mode);
  assert.equal(toHex(encodeContext(bytesCtx(ctx))), toHex(expected));
  for (const wrong of [new Uint8Array(31), new Uint8Array(33), 'ab'.repeat(16)]) {
    await assert.rejects(sealEnvelope(key, keyId, 0, { ...ctx, mode: wrong }, pt), { name: 'InvalidContext' });
  }
  const env = await sealEnvelope(key, keyId, 0, ctx, pt);
  assert.equal(await resealIndependently(key, keyId, 0, ctx, pt, env), toHex(env));
  assert.deepEqual(await openEnvelope(key, keyId, 0, ctx, env), pt);
  const { mode: _dropped, ...unbound } = ctx;
  await assert.rejects(openEnvelope(key, keyId, 0, unbound, env), { name: 'AuthenticationFailed' });
  const other = { ...ctx, mode: new Uint8Array(MODE_BINDING_LEN).fill(0xac) };
  await assert.rejects(openEnvelope(key, keyId, 0, other, env), { name: 'AuthenticationFailed' });
});

test('the module exports exactly what ENVELOPE.md §11.1 lists', () => {
  const doc = readFileSync(new URL('../../docs/ENVELOPE.md', import.meta.url), 'utf8');
  const start = doc.indexOf('### 11.1 ');
  assert.ok(start >= 0, 'ENVELOPE.md has a section 11.1');
  const ends = ['\n## ', '\n### '].map((h) => doc.indexOf(h, start + 1)).filter((i) => i > 0);
  const section = doc.slice(start, Math.min(doc.length, ...ends));
  const documented = [...section.matchAll(/^\| `([A-Za-z_][A-Za-z0-9_]*)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...documented].sort(), Object.keys(shipped).sort());
});
