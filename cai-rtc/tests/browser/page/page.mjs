// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file The browser side of cai-rtc's real-browser test (cai-rtc/tests/browser.rs).
 *
 * 1. The fragment names the signaling WebSocket (`#signal=ws://127.0.0.1:…/`, optionally
 *    `&api=createEncodedStreams` to force the older transform API). The test hands the
 *    page its credentials out of band, through Playwright: `window.__caiStart({token,
 *    tenant, session, key: {id, epoch, secret}, send})` — the account's session token and
 *    the session's 32-byte data key never appear in a URL.
 * 2. Joins the session's call with `cai-signaling.mjs` (docs/SIGNALING.md): `admitted`
 *    gives this browser's sender index, the call instance's id (`call`, bound into the
 *    media secret) and the peer already in the call; the newcomer
 *    offers, so the page offers to that peer and trickles ICE to it.
 * 3. The RTCPeerConnection has the data channel `cai` and an audio track (a WebAudio
 *    oscillator, Opus) whose encoded frames an SFrame transform in a worker protects
 *    (`RTCRtpScriptTransform`, else `createEncodedStreams`) with this sender's session
 *    media secret (data key, session id, `admitted.call`, epoch, sender index).
 * 4. Sends one sealed chat message (`cai-datachannel.mjs`, envelope v1 by
 *    `cai-envelope.mjs`) and opens the peer's sealed reply.
 * 5. `window.__caiResult` is set once the reply is open (or on the first error);
 *    `window.__caiDone` turns true when the peer leaves the call (`peer_left`).
 */
import { ChatChannel } from '/cai-rtc/js/cai-datachannel.mjs';
import { SUITE_AES_256_GCM_SHA512_128, sessionMediaSecret } from '/cai-rtc/js/cai-sframe.mjs';
import { SignalingClient, tokenAuth } from '/cai-rtc/js/cai-signaling.mjs';

const result = {
  api: null,
  admitted: null,
  sent: null,
  sent_hex: null,
  reply: null,
  peer_left: false,
  stats: null,
  errors: [],
};
window.__caiResult = null;
window.__caiDone = false;

const status = (/** @type {string} */ s) => {
  document.getElementById('status').textContent = s;
  console.log(`[page] ${s}`);
};
const fromHex = (/** @type {string} */ s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (/** @type {Uint8Array} */ b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

const params = new URLSearchParams(location.hash.slice(1));
const signalUrl = params.get('signal');
// `#…&api=createEncodedStreams` makes the page use the fallback even where
// RTCRtpScriptTransform exists, so the test covers both.
const forceStreams = params.get('api') === 'createEncodedStreams';
/** @type {RTCPeerConnection|null} */
let pc = null;

function fail(/** @type {unknown} */ e) {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  result.errors.push(text);
  status(`error: ${text}`);
  window.__caiResult ??= result;
}

function done() {
  pc?.close();
  window.__caiResult ??= result;
  window.__caiDone = true;
}

window.__caiStart = (/** @type {any} */ session) => {
  start(session).catch(fail);
};

async function start(session) {
  const dek = fromHex(session.key.secret);
  const keyId = fromHex(session.key.id);
  const epoch = session.key.epoch;
  const useScript = !forceStreams && typeof RTCRtpScriptTransform === 'function';
  const useStreams = !useScript && 'createEncodedStreams' in RTCRtpSender.prototype;
  if (!useScript && !useStreams) throw new Error('no encoded-transform API: the call would be TransportOnly');
  result.api = useScript ? 'RTCRtpScriptTransform' : 'createEncodedStreams';

  const client = new SignalingClient(new WebSocket(signalUrl));
  client.addEventListener('protocol_error', (e) => fail(e.detail));
  client.addEventListener('error', (e) => fail(new Error(`signaling error ${e.detail.code} (${e.detail.field ?? '-'})`)));
  client.addEventListener('ended', (e) => fail(new Error(`call ended: ${e.detail.reason}`)));
  client.addEventListener('close', () => status('signaling closed'));
  const admitted = await client.join(tokenAuth(session.token, session.session));
  result.admitted = {
    call: admitted.call,
    sender_index: admitted.sender_index,
    peers: admitted.peers.map((p) => p.sender_index),
    mode: admitted.mode,
    end_to_end: admitted.end_to_end,
    key_epoch: admitted.key_epoch,
  };
  status(`admitted as ${admitted.sender_index}`);
  if (admitted.end_to_end) throw new Error('an end-to-end session: media keys would come from MLS');
  if (admitted.key_epoch !== epoch) throw new Error(`key epoch ${admitted.key_epoch}, but the key is of ${epoch}`);
  if (admitted.peers.length !== 1) throw new Error(`expected one peer in the call, got ${admitted.peers.length}`);
  const me = admitted.sender_index;
  const peer = admitted.peers[0].sender_index;

  pc = new RTCPeerConnection(useStreams ? { encodedInsertableStreams: true } : {});
  pc.onicecandidate = (e) => client.ice(peer, e.candidate ? e.candidate.toJSON() : null);
  pc.onconnectionstatechange = () => status(`connection ${pc.connectionState}`);
  // The peer's candidates may come before its answer is applied: they wait for it.
  const early = [];
  let answered = false;
  client.addEventListener('answer', async (e) => {
    try {
      if (e.detail.from !== peer) throw new Error(`answer from ${e.detail.from}`);
      await pc.setRemoteDescription(e.detail.description);
      answered = true;
      for (const c of early.splice(0)) await pc.addIceCandidate(c);
    } catch (err) {
      fail(err);
    }
  });
  client.addEventListener('ice', async (e) => {
    try {
      if (e.detail.from !== peer) throw new Error(`candidate from ${e.detail.from}`);
      if (e.detail.candidate.candidate === '') return; // end of candidates
      if (answered) await pc.addIceCandidate(e.detail.candidate);
      else early.push(e.detail.candidate);
    } catch (err) {
      fail(err);
    }
  });
  client.addEventListener('peer_left', (e) => {
    if (e.detail.sender_index !== peer) return;
    result.peer_left = true;
    status('the peer left');
    client.close();
    done();
  });

  // The media secret of this sender; the worker imports it and zeroes it.
  const secret = await sessionMediaSecret(dek, session.session, admitted.call, epoch, me);
  const worker = new Worker('./sframe-worker.mjs', { type: 'module' });
  worker.onmessage = (e) => {
    if (e.data.type === 'stats') result.stats = e.data;
    else if (e.data.type === 'error') result.errors.push(`worker: ${e.data.message}`);
  };
  worker.onerror = (e) => fail(new Error(`worker: ${e.message}`));
  worker.postMessage({ type: 'key', suite: SUITE_AES_256_GCM_SHA512_128, epoch, senderIndex: me, secret }, [secret.buffer]);

  // A tone: Opus then sends full frames (no DTX silence), one frame per RTP packet.
  const audio = new AudioContext();
  await audio.resume();
  const osc = audio.createOscillator();
  const dest = audio.createMediaStreamDestination();
  osc.frequency.value = 440;
  osc.connect(dest);
  osc.start();
  const [track] = dest.stream.getAudioTracks();
  const { sender } = pc.addTransceiver(track, { direction: 'sendonly', streams: [dest.stream] });
  // The transform is in place before the offer, so no frame is ever sent unprotected.
  if (useScript) {
    sender.transform = new RTCRtpScriptTransform(worker, { side: 'send' });
  } else {
    const { readable, writable } = sender.createEncodedStreams();
    worker.postMessage({ type: 'streams', readable, writable }, [readable, writable]);
  }

  const chat = await ChatChannel.create({ tenant: session.tenant, session: session.session, call: admitted.call, senderIndex: me, remoteIndex: peer }, dek, keyId, epoch);
  const dc = pc.createDataChannel('cai');
  dc.binaryType = 'arraybuffer';
  dc.onopen = async () => {
    try {
      const sealed = await chat.sealChat(session.send);
      dc.send(sealed);
      result.sent = session.send;
      result.sent_hex = toHex(sealed);
      status('sealed message sent');
    } catch (e) {
      fail(e);
    }
  };
  dc.onmessage = async (e) => {
    try {
      const { sender: from, text } = await chat.open(new Uint8Array(e.data));
      if (from !== peer) throw new Error(`reply from sender ${from}`);
      result.reply = text;
      status('sealed reply opened');
      window.__caiResult = result;
    } catch (err) {
      fail(err);
    }
  };

  await pc.setLocalDescription();
  client.offer(peer, pc.localDescription.toJSON());
  status('offer sent');
}
