#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file Command-line bridge between the WebCrypto reference module and the Rust
 * interop test (`cai-crypto/tests/envelope_webcrypto.rs`). All byte fields are hex.
 *
 * ```text
 * node interop.mjs open <file.json>        prints the plaintext hex; on failure prints the
 *                                          error name to stderr and exits 1
 * node interop.mjs seal <file.json>        prints the envelope hex
 * node interop.mjs open-batch <file.json>  prints a JSON array of {"plaintext": hex} | {"error": name}
 * node interop.mjs seal-batch <file.json>  prints a JSON array of envelope hex (one Sealer)
 * node interop.mjs gen-vectors             prints tests/vectors/cai/envelope_v1.json
 * ```
 *
 * Case JSON (`open`): `{"key", "key_id", "epoch", "context", "envelope"}`;
 * (`seal`): `{"key", "key_id", "epoch", "context", "plaintext", "salt"?, "nonce_counter"?}`;
 * `context` is `{"tenant", "session", "item", "version", "kind"}` with hex ids and a kind
 * code. `open-batch` takes `{"cases": [open case, ...]}`; `seal-batch` takes
 * `{"key", "key_id", "epoch", "items": [{"context", "plaintext"}, ...]}` and seals all
 * items with one `Sealer` (so nonces count 0, 1, 2, … under one salt).
 *
 * Exit codes: 0 success, 1 the envelope did not open, 2 usage or input error.
 */

import { readFileSync } from 'node:fs';
import {
  EnvelopeError,
  Sealer,
  counterNonce,
  deriveSubkey,
  encodeContext,
  encodeHeader,
  fromHex,
  hkdfInfo,
  openEnvelope,
  sealEnvelope,
  toHex,
} from './cai-envelope.mjs';

/** @param {any} c */
function context(c) {
  return {
    tenant: fromHex(c.tenant),
    session: fromHex(c.session),
    item: fromHex(c.item),
    version: c.version,
    kind: c.kind,
  };
}

/** @param {any} c */
async function openCase(c) {
  return openEnvelope(
    fromHex(c.key),
    fromHex(c.key_id),
    c.epoch,
    context(c.context),
    fromHex(c.envelope),
  );
}

/** @param {any} c */
async function sealCase(c) {
  const opts = {};
  if (c.salt !== undefined) opts.salt = fromHex(c.salt);
  if (c.nonce_counter !== undefined) opts.nonceCounter = c.nonce_counter;
  return sealEnvelope(
    fromHex(c.key),
    fromHex(c.key_id),
    c.epoch,
    context(c.context),
    fromHex(c.plaintext),
    opts,
  );
}

const hexOf = (/** @type {string} */ s) => toHex(new TextEncoder().encode(s));
const range = (/** @type {number} */ start, /** @type {number} */ n) =>
  toHex(Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff));

/** The fixed test vectors: inputs here, every derived value computed. */
async function genVectors() {
  const key = range(0x00, 32);
  const keyId = range(0xa0, 16);
  const epoch = 7;
  const salt = range(0x40, 32);
  const ctx = (/** @type {string} */ item, /** @type {number} */ version, /** @type {number} */ kind) => ({
    tenant: hexOf('tenant-1'),
    session: hexOf('session-9'),
    item: hexOf(item),
    version,
    kind,
  });
  const inputs = [
    {
      name: 'message',
      comment: 'a chat message, first item of a sealer (nonce counter 0)',
      context: ctx('msg-1', 1, 1),
      plaintext: hexOf('I would like to talk about my week.'),
      nonce_counter: 0,
    },
    {
      name: 'empty',
      comment: 'an empty note: the envelope is header and tag only (118 bytes)',
      context: ctx('note-3', 0, 2),
      plaintext: '',
      nonce_counter: 1,
    },
    {
      name: 'document-last-nonce',
      comment: 'a document version sealed with the last counter of a subkey (2^32 - 1)',
      context: ctx('doc-42', 0xfffffffe, 4),
      plaintext: range(0x00, 100),
      nonce_counter: 0xffffffff,
    },
  ];
  const valid = [];
  for (const v of inputs) {
    const d = await deriveSubkey(fromHex(key), fromHex(keyId), epoch, fromHex(salt));
    const nonce = counterNonce(v.nonce_counter);
    const header = encodeHeader({
      keyId: fromHex(keyId),
      epoch,
      salt: fromHex(salt),
      commitment: d.commitment,
      nonce,
    });
    const encCtx = encodeContext(context(v.context));
    const envelope = await sealCase({ key, key_id: keyId, epoch, salt, ...v });
    valid.push({
      ...v,
      key,
      key_id: keyId,
      epoch,
      salt,
      hkdf_info: toHex(hkdfInfo(fromHex(keyId), epoch)),
      subkey: toHex(d.subkeyBytes),
      commitment: toHex(d.commitment),
      nonce: toHex(nonce),
      header: toHex(header),
      context_encoding: toHex(encCtx),
      aad: toHex(header) + toHex(encCtx),
      envelope: toHex(envelope),
    });
  }
  const m = valid[0];
  const flip = (/** @type {string} */ hex, /** @type {number} */ byte) => {
    const b = fromHex(hex);
    b[byte] ^= 0x01;
    return toHex(b);
  };
  const envLen = m.envelope.length / 2;
  const invalid = [
    {
      name: 'wrong-context-item',
      comment: 'the "message" envelope opened for item msg-2',
      key,
      key_id: keyId,
      epoch,
      context: ctx('msg-2', 1, 1),
      envelope: m.envelope,
      error: 'AuthenticationFailed',
    },
    {
      name: 'wrong-context-kind',
      comment: 'the "message" envelope opened as a Note',
      key,
      key_id: keyId,
      epoch,
      context: ctx('msg-1', 1, 2),
      envelope: m.envelope,
      error: 'AuthenticationFailed',
    },
    {
      name: 'other-key-same-id',
      comment: 'same key id and epoch, different secret: caught by the commitment',
      key: range(0x01, 32),
      key_id: keyId,
      epoch,
      context: m.context,
      envelope: m.envelope,
      error: 'KeyCommitmentMismatch',
    },
    {
      name: 'other-epoch',
      comment: 'right secret and id, epoch 8',
      key,
      key_id: keyId,
      epoch: 8,
      context: m.context,
      envelope: m.envelope,
      error: 'WrongKey',
    },
    {
      name: 'flipped-tag',
      comment: 'last byte of the tag flipped',
      key,
      key_id: keyId,
      epoch,
      context: m.context,
      envelope: flip(m.envelope, envLen - 1),
      error: 'AuthenticationFailed',
    },
    {
      name: 'flipped-nonce',
      comment: 'last nonce byte flipped (nonce is in the AAD and feeds GCM)',
      key,
      key_id: keyId,
      epoch,
      context: m.context,
      envelope: flip(m.envelope, 101),
      error: 'AuthenticationFailed',
    },
    {
      name: 'flipped-commitment',
      comment: 'first commitment byte flipped',
      key,
      key_id: keyId,
      epoch,
      context: m.context,
      envelope: flip(m.envelope, 58),
      error: 'KeyCommitmentMismatch',
    },
    {
      name: 'truncated',
      comment: 'one byte short of the smallest envelope',
      key,
      key_id: keyId,
      epoch,
      context: m.context,
      envelope: m.envelope.slice(0, 2 * 117),
      error: 'Truncated',
    },
  ];
  return {
    format: 'cai envelope v1',
    spec: 'docs/ENVELOPE.md',
    generator: 'node cai-crypto/js/interop.mjs gen-vectors',
    note: 'All byte fields are lowercase hex. context ids are hex of their bytes; kind is the wire code.',
    valid,
    invalid,
  };
}

async function main() {
  const [cmd, file] = process.argv.slice(2);
  const input = () => {
    if (!file) throw new TypeError(`usage: node interop.mjs ${cmd} <file.json>`);
    return JSON.parse(readFileSync(file, 'utf8'));
  };
  switch (cmd) {
    case 'open': {
      try {
        process.stdout.write(toHex(await openCase(input())) + '\n');
      } catch (e) {
        if (e instanceof EnvelopeError) {
          process.stderr.write(e.name + '\n');
          process.exitCode = 1;
          return;
        }
        throw e;
      }
      return;
    }
    case 'seal':
      process.stdout.write(toHex(await sealCase(input())) + '\n');
      return;
    case 'open-batch': {
      const out = [];
      for (const c of input().cases) {
        try {
          out.push({ plaintext: toHex(await openCase(c)) });
        } catch (e) {
          if (!(e instanceof EnvelopeError)) throw e;
          out.push({ error: e.name });
        }
      }
      process.stdout.write(JSON.stringify(out) + '\n');
      return;
    }
    case 'seal-batch': {
      const b = input();
      const sealer = await Sealer.create(fromHex(b.key), fromHex(b.key_id), b.epoch);
      const out = [];
      for (const it of b.items) out.push(toHex(await sealer.seal(context(it.context), fromHex(it.plaintext))));
      process.stdout.write(JSON.stringify(out) + '\n');
      return;
    }
    case 'gen-vectors':
      process.stdout.write(JSON.stringify(await genVectors(), null, 2) + '\n');
      return;
    default:
      throw new TypeError('usage: node interop.mjs open|seal|open-batch|seal-batch <file.json> | gen-vectors');
  }
}

main().catch((e) => {
  process.stderr.write(`${e && e.name ? e.name : 'Error'}: ${e && e.message ? e.message : e}\n`);
  process.exitCode = 2;
});
