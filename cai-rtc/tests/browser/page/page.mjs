// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file The browser side of cai-rtc's real-browser test (cai-rtc/tests/browser.rs).
 *
 * 1. Connects to the signaling WebSocket named in the fragment (`#signal=ws://127.0.0.1:…`,
 *    optionally `&api=createEncodedStreams` to force the older transform API);
 *    the first message gives the session (tenant, session id, the 32-byte session data key
 *    with its id and epoch, this browser's and the peer's roster index). The key never
 *    appears in a URL.
 * 2. Creates an RTCPeerConnection with a data channel and an audio track (a WebAudio
 *    oscillator, Opus), whose encoded frames an SFrame transform in a worker protects
 *    (`RTCRtpScriptTransform`, else `createEncodedStreams`) with the media secret of this
 *    sender (the rtc contract's session derivation).
 * 3. Offers, answers the peer's ICE, sends one sealed chat message on the data channel
 *    (`cai-datachannel.mjs`: the format of cai-rtc's data module, envelope v1 by
 *    `cai-envelope.mjs`) and opens the peer's sealed reply.
 * 4. Reports to the test by signaling (`test_report`) and in `window.__caiResult`;
 *    `window.__caiDone` turns true when the test closes the signaling channel.
 */
import { ChatChannel } from '/cai-rtc/js/cai-datachannel.mjs';
import { SUITE_AES_256_GCM_SHA512_128, sessionMediaSecret } from '/cai-rtc/js/cai-sframe.mjs';

const result = {
  api: null,
  sent: null,
  reply: null,
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

const params = new URLSearchParams(location.hash.slice(1));
const signal = params.get('signal');
// `#…&api=createEncodedStreams` makes the page use the fallback even where
// RTCRtpScriptTransform exists, so the test covers both.
const forceStreams = params.get('api') === 'createEncodedStreams';
const ws = new WebSocket(signal);
const send = (msg) => ws.send(JSON.stringify({ v: 1, ...msg }));
let pc = null;
let reported = false;

function fail(/** @type {unknown} */ e) {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  result.errors.push(text);
  status(`error: ${text}`);
  report();
}

function report() {
  if (reported) return;
  reported = true;
  window.__caiResult = result;
  if (ws.readyState === WebSocket.OPEN) send({ type: 'test_report', ...result });
}

ws.onclose = () => {
  window.__caiResult = result;
  window.__caiDone = true;
  status('signaling closed');
};
ws.onerror = () => fail(new Error('signaling WebSocket error'));
ws.onmessage = async (event) => {
  try {
    const msg = JSON.parse(event.data);
    if (msg.v !== 1) throw new Error(`unknown signaling version ${msg.v}`);
    if (msg.type === 'test_session') await start(msg);
    else if (msg.type === 'answer') await pc.setRemoteDescription(msg.sdp);
    else if (msg.type === 'ice') await pc.addIceCandidate(msg.candidate);
  } catch (e) {
    fail(e);
  }
};

async function start(session) {
  const dek = fromHex(session.key.secret);
  const keyId = fromHex(session.key.id);
  const epoch = session.key.epoch;
  const useScript = !forceStreams && typeof RTCRtpScriptTransform === 'function';
  const useStreams = !useScript && 'createEncodedStreams' in RTCRtpSender.prototype;
  if (!useScript && !useStreams) throw new Error('no encoded-transform API: the call would be TransportOnly');
  result.api = useScript ? 'RTCRtpScriptTransform' : 'createEncodedStreams';
  pc = new RTCPeerConnection(useStreams ? { encodedInsertableStreams: true } : {});
  pc.onicecandidate = (e) => {
    if (e.candidate) send({ type: 'ice', candidate: e.candidate.toJSON() });
  };
  pc.onconnectionstatechange = () => status(`connection ${pc.connectionState}`);

  // The media secret of this sender; the worker imports it and zeroes it.
  const secret = await sessionMediaSecret(dek, session.session, epoch, session.sender_index);
  const worker = new Worker('./sframe-worker.mjs', { type: 'module' });
  worker.onmessage = (e) => {
    if (e.data.type === 'stats') result.stats = e.data;
    else if (e.data.type === 'error') result.errors.push(`worker: ${e.data.message}`);
  };
  worker.onerror = (e) => fail(new Error(`worker: ${e.message}`));
  worker.postMessage(
    { type: 'key', suite: SUITE_AES_256_GCM_SHA512_128, epoch, senderIndex: session.sender_index, secret },
    [secret.buffer],
  );

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

  const chat = await ChatChannel.create(
    { tenant: session.tenant, session: session.session, senderIndex: session.sender_index },
    dek,
    keyId,
    epoch,
  );
  const dc = pc.createDataChannel('cai');
  dc.binaryType = 'arraybuffer';
  dc.onopen = async () => {
    try {
      dc.send(await chat.sealChat(session.send));
      result.sent = session.send;
      status('sealed message sent');
    } catch (e) {
      fail(e);
    }
  };
  dc.onmessage = async (e) => {
    try {
      const { sender, text } = await chat.open(new Uint8Array(e.data));
      if (sender !== session.peer_sender_index) throw new Error(`reply from sender ${sender}`);
      result.reply = text;
      status('sealed reply opened');
      report();
    } catch (err) {
      fail(err);
    }
  };

  await pc.setLocalDescription();
  send({ type: 'offer', sdp: pc.localDescription.toJSON() });
  status('offer sent');
}
