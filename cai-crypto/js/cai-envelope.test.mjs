// SPDX-License-Identifier: Apache-2.0 OR MIT
// Self-test of the reference module: `node --test cai-crypto/js/`.
// Checks the shared fixed vectors (also checked by the Rust test) and round trips.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  HEADER_LEN,
  OVERHEAD,
  Sealer,
  counterNonce,
  deriveSubkey,
  encodeContext,
  encodeHeader,
  fromHex,
  hkdfInfo,
  openEnvelope,
  parseHeader,
  sealEnvelope,
  toHex,
} from './cai-envelope.mjs';

const vectors = JSON.parse(
  readFileSync(new URL('../tests/vectors/cai/envelope_v1.json', import.meta.url), 'utf8'),
);

/** Random bytes of any length (getRandomValues takes at most 65536 bytes per call). */
const randomBytes = (n) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
};

const ctxOf = (c) => ({
  tenant: fromHex(c.tenant),
  session: fromHex(c.session),
  item: fromHex(c.item),
  version: c.version,
  kind: c.kind,
});

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
    assert.equal(toHex(hkdfInfo(keyId, v.epoch)), v.hkdf_info);
    const d = await deriveSubkey(key, keyId, v.epoch, salt);
    assert.equal(toHex(d.subkeyBytes), v.subkey);
    assert.equal(toHex(d.commitment), v.commitment);
    assert.equal(toHex(counterNonce(v.nonce_counter)), v.nonce);
    const header = encodeHeader({ keyId, epoch: v.epoch, salt, commitment: d.commitment, nonce: fromHex(v.nonce) });
    assert.equal(toHex(header), v.header);
    assert.equal(toHex(encodeContext(ctxOf(v.context))), v.context_encoding);
    assert.equal(v.aad, v.header + v.context_encoding);
    const env = await sealEnvelope(key, keyId, v.epoch, ctxOf(v.context), fromHex(v.plaintext), {
      salt,
      nonceCounter: v.nonce_counter,
    });
    assert.equal(toHex(env), v.envelope);
    assert.equal(env.length, OVERHEAD + v.plaintext.length / 2);
    const pt = await openEnvelope(key, keyId, v.epoch, ctxOf(v.context), fromHex(v.envelope));
    assert.equal(toHex(pt), v.plaintext);
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

test('round trip with a Sealer: counter nonces under one salt', async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const keyId = crypto.getRandomValues(new Uint8Array(16));
  const sealer = await Sealer.create(key, keyId, 3);
  const ctx = { tenant: 't', session: 's', item: 'i', version: 9, kind: 'File' };
  const seen = new Set();
  for (const len of [0, 1, 15, 16, 17, 1000, 70_000]) {
    const pt = randomBytes(len);
    const env = await sealer.seal(ctx, pt);
    const h = parseHeader(env);
    assert.equal(toHex(h.salt), toHex(sealer.salt));
    seen.add(toHex(h.nonce));
    assert.deepEqual(await openEnvelope(key, keyId, 3, ctx, env), pt);
  }
  assert.equal(seen.size, 7);
  assert.equal(toHex(parseHeader(await sealer.seal(ctx, new Uint8Array())).nonce), '000000000000000000000007');
  const other = await Sealer.create(key, keyId, 3);
  assert.notEqual(toHex(other.salt), toHex(sealer.salt));
});

test('every single-bit flip and every truncation is rejected', async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const keyId = crypto.getRandomValues(new Uint8Array(16));
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

test('context validation', () => {
  assert.throws(() => encodeContext({ tenant: '', session: 's', item: 'i', version: 0, kind: 1 }), {
    name: 'InvalidContext',
  });
  assert.throws(
    () => encodeContext({ tenant: 't', session: new Uint8Array(256), item: 'i', version: 0, kind: 1 }),
    { name: 'InvalidContext' },
  );
  assert.throws(() => encodeContext({ tenant: 't', session: 's', item: 'i', version: 0, kind: 8 }), {
    name: 'Malformed',
  });
  assert.equal(
    toHex(encodeContext({ tenant: 't1', session: 's', item: 'item', version: 7, kind: 'Note' })),
    toHex(new TextEncoder().encode('\x02t1\x01s\x04item\x00\x00\x00\x07\x02')),
  );
});
