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
 * (`seal`): `{"key", "key_id", "epoch", "context", "plaintext", "salt"?, "nonce"?}`;
 * `context` is `{"tenant", "session", "item", "version", "kind", "mode"?}` with hex ids,
 * a kind code and, in sessions with a signed mode descriptor, the 32-byte mode binding. `seal` uses the shipped `sealEnvelope`, or, when `salt` and `nonce` are given,
 * the step-by-step sealing of `test_support.mjs` (the shipped module takes neither).
 * `open-batch` takes `{"cases": [open case, ...]}`; `seal-batch` takes
 * `{"key", "key_id", "epoch", "items": [{"context", "plaintext"}, ...]}` and seals all
 * items with one `Sealer` (one salt, sequence numbers 0, 1, 2, … in the nonces).
 *
 * Exit codes: 0 success, 1 the envelope did not open, 2 usage or input error.
 */

import { readFileSync } from 'node:fs';
import { EnvelopeError, Sealer, openEnvelope, sealEnvelope } from './cai-envelope.mjs';
import { fromHex, hkdfInfo, nonceOf, sealWith, toHex } from './test_support.mjs';

/** @param {any} c */
function context(c) {
  return {
    tenant: fromHex(c.tenant),
    session: fromHex(c.session),
    item: fromHex(c.item),
    version: c.version,
    kind: c.kind,
    mode: c.mode === undefined ? undefined : fromHex(c.mode),
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
  if ((c.salt === undefined) !== (c.nonce === undefined)) {
    throw new TypeError('seal: give both "salt" and "nonce", or neither');
  }
  if (c.salt === undefined) {
    return sealEnvelope(
      fromHex(c.key),
      fromHex(c.key_id),
      c.epoch,
      context(c.context),
      fromHex(c.plaintext),
    );
  }
  const sealed = await sealWith({
    key: fromHex(c.key),
    keyId: fromHex(c.key_id),
    epoch: c.epoch,
    salt: fromHex(c.salt),
    nonce: fromHex(c.nonce),
    context: context(c.context),
    plaintext: fromHex(c.plaintext),
  });
  return sealed.envelope;
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
      comment: 'a chat message, first item of a sealer (sequence number 0)',
      context: ctx('msg-1', 1, 1),
      plaintext: hexOf('I would like to talk about my week.'),
      nonce_seq: 0,
      nonce_random: range(0xc0, 8),
    },
    {
      name: 'empty',
      comment: 'an empty note, second item of a sealer: the envelope is header and tag only (118 bytes)',
      context: ctx('note-3', 0, 2),
      plaintext: '',
      nonce_seq: 1,
      nonce_random: range(0xd0, 8),
    },
    {
      name: 'document-last-seq',
      comment: 'a document version sealed with the last sequence number of a subkey (2^32 - 1)',
      context: ctx('doc-42', 0xfffffffe, 4),
      plaintext: range(0x00, 100),
      nonce_seq: 0xffffffff,
      nonce_random: range(0xe0, 8),
    },
    {
      name: 'message-with-mode',
      comment:
        'a chat message in a session with a signed mode descriptor: the context ends with 0x01 and the 32-byte binding (SHA-256 of the descriptor, docs/E2E.md section 5)',
      context: { ...ctx('msg-2', 1, 1), mode: range(0x60, 32) },
      plaintext: hexOf('Only under the mode my counsellor signed.'),
      nonce_seq: 2,
      nonce_random: range(0xf0, 8),
    },
  ];
  const valid = [];
  for (const v of inputs) {
    const nonce = nonceOf(v.nonce_seq, fromHex(v.nonce_random));
    const s = await sealWith({
      key: fromHex(key),
      keyId: fromHex(keyId),
      epoch,
      salt: fromHex(salt),
      nonce,
      context: context(v.context),
      plaintext: fromHex(v.plaintext),
    });
    valid.push({
      ...v,
      key,
      key_id: keyId,
      epoch,
      salt,
      hkdf_info: toHex(hkdfInfo(fromHex(keyId), epoch)),
      subkey: toHex(s.subkey),
      commitment: toHex(s.commitment),
      nonce: toHex(nonce),
      header: toHex(s.header),
      context_encoding: toHex(s.contextEncoding),
      aad: toHex(s.aad),
      envelope: toHex(s.envelope),
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
