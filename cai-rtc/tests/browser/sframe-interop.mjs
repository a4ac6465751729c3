// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file Node side of `js_sframe_interoperates_with_cai_crypto` in cai-rtc/tests/browser.rs:
 * cai-sframe.mjs against the Rust `FrameEncryptor` / `FrameDecryptor`, without a browser.
 *
 *   node sframe-interop.mjs '<json>'
 *
 * Input: `{dek, session, call, epoch, sender, metadata, frames: [hex], rust_frames: [hex]}`.
 * Derives the sender's media secret (docs/SFRAME.md §3a), opens the Rust-made `rust_frames`,
 * protects `frames`, and prints `{media_secret, opened: [hex], protected: [hex]}`.
 */
import {
  SUITE_AES_256_GCM_SHA512_128,
  SframeKey,
  SframeReceiver,
  SframeSender,
  sessionMediaSecret,
} from '../../js/cai-sframe.mjs';

const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b) => Buffer.from(b).toString('hex');

const input = JSON.parse(process.argv[2]);
const secret = await sessionMediaSecret(hex(input.dek), input.session, input.call, input.epoch, input.sender);
const key = await SframeKey.fromMediaSecret(SUITE_AES_256_GCM_SHA512_128, input.epoch, input.sender, secret);
const metadata = hex(input.metadata);
const rx = new SframeReceiver();
rx.addKey(key);
const opened = [];
for (const f of input.rust_frames) opened.push(toHex((await rx.unprotect(hex(f), metadata)).plaintext));
const tx = new SframeSender(key);
const protectedFrames = [];
for (const f of input.frames) protectedFrames.push(toHex(await tx.protect(hex(f), metadata)));
process.stdout.write(JSON.stringify({ media_secret: toHex(secret), opened, protected: protectedFrames }));
