// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file The send-side SFrame transform of the browser test (docs/SFRAME.md §8): every
 * encoded audio frame is replaced by `header ‖ AES-GCM(frame) ‖ tag` before packetisation.
 *
 * The media secret arrives once by `postMessage` and is imported into non-extractable
 * WebCrypto keys at once; its bytes are zeroed. Frames that arrive before the key wait
 * for it; a frame that cannot be protected is dropped, never sent in the clear. Opus has
 * no codec prefix that must stay readable, so the SFrame metadata is empty.
 *
 * Works with `RTCRtpScriptTransform` (the `rtctransform` event) and with Chromium's older
 * encoded insertable streams (the streams are posted to the worker).
 */
import { SframeKey, SframeSender } from '/cai-rtc/js/cai-sframe.mjs';

/** @type {(s: SframeSender) => void} */
let resolveSender;
/** @type {Promise<SframeSender>} */
const senderReady = new Promise((resolve) => {
  resolveSender = resolve;
});
const stats = { protected: 0, dropped: 0, firstKid: null };

function report() {
  self.postMessage({ type: 'stats', ...stats });
}

/** @param {ReadableStream} readable @param {WritableStream} writable */
function pipe(readable, writable) {
  const transform = new TransformStream({
    async transform(frame, controller) {
      try {
        const sender = await senderReady;
        frame.data = (await sender.protect(new Uint8Array(frame.data))).buffer;
        controller.enqueue(frame);
        stats.protected++;
        if (stats.firstKid === null) stats.firstKid = sender.kid.toString();
      } catch (e) {
        stats.dropped++;
        self.postMessage({ type: 'error', message: `${e.name}: ${e.message}` });
      }
      if ((stats.protected + stats.dropped) % 10 === 0) report();
    },
  });
  readable
    .pipeThrough(transform)
    .pipeTo(writable)
    .catch((e) => self.postMessage({ type: 'error', message: `pipe: ${e}` }));
}

self.onrtctransform = (event) => pipe(event.transformer.readable, event.transformer.writable);

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === 'key') {
    try {
      const key = await SframeKey.fromMediaSecret(msg.suite, msg.epoch, msg.senderIndex, msg.secret);
      resolveSender(new SframeSender(key));
    } catch (e) {
      self.postMessage({ type: 'error', message: `key: ${e.name}: ${e.message}` });
    } finally {
      msg.secret.fill(0);
    }
  } else if (msg.type === 'streams') {
    pipe(msg.readable, msg.writable);
  }
};
