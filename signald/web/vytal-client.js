// VytalWatch call client: signaling with vytal-signald over /webrtc/ws and one
// RTCPeerConnection per other participant, negotiated with the "perfect
// negotiation" pattern of the W3C WebRTC specification, so that either side
// may (re)negotiate at any time without glare.
//
//   const call = new VytalCall({ url, token, callId, localStream });
//   call.addEventListener('track', (e) => show(e.detail.userId, e.detail.stream));
//   await call.join();
//   ...
//   call.leave();            // or await call.endCall('completed') for everyone
//   await call.peerStatus(); // per peer: connecting / direct / relayed (udp, tcp, tls), quality
//
// Leaving, or the call ending (whoever ended it), closes every peer
// connection and stops the local stream's tracks (camera and microphone go
// off). endCall() resolves with the call-ended message once the end is
// committed.
//
// Events (CustomEvent detail): joined, participant-joined, participant-left,
// participant-reconnecting, track, media-state, call-ended, removed, error,
// state. An operator may end the call (call-ended with the operator's words
// as `message`) or remove this participant (removed, with `reason`; the
// server then closes the connection with code 4001 and refuses a rejoin).
// The wire protocol is documented in docs/PROTOCOL.md.

const PROTOCOL = 'vytal.v1';

// Thresholds of the quality indicator (ITU-T G.114 puts one-way delay under
// 150 ms for good conversation; a round trip of 400 ms is noticeably late).
function quality({ rttMs, lossRatio, jitterMs }) {
  if ((rttMs ?? 0) > 400 || (lossRatio ?? 0) > 0.05 || (jitterMs ?? 0) > 50) return 'poor';
  if ((rttMs ?? 0) > 200 || (lossRatio ?? 0) > 0.01 || (jitterMs ?? 0) > 30) return 'fair';
  return 'good';
}

// When the network path breaks mid-call (a clinic's firewall starts dropping
// UDP, a laptop moves to another network), ICE is restarted and the call moves
// to whatever path still works (TURN over TCP or TLS). Chromium by itself
// moves to another pair only after about 6 s without an answer on the selected
// one, and its iceConnectionState meanwhile stays "connected" (another pair is
// still writable), so the client watches the selected pair: nothing received
// on it for PATH_STALL_MS while connected restarts ICE; so do "disconnected"
// (after a short grace) and "failed". Once a restart has moved the call to a
// new pair, the video senders restart their encoding: the receiver gets a key
// frame at once instead of asking again for packets lost with the old path
// (about 2 s). Measured in tests/network, scenario 8 (docs/NETWORKS.md).
const PATH_CHECK_MS = 250;
const PATH_STALL_MS = 1000;
const DISCONNECTED_GRACE_MS = 1000;
const RESTART_MIN_INTERVAL_MS = 5000; // per peer: a restart needs that long to gather and check
const KEY_FRAME_AFTER_RESTART_MS = 15000; // a pair change this soon after a restart is its result

export class VytalCall extends EventTarget {
  constructor({ url, token, callId, localStream, iceTransportPolicy = 'all', qualityIntervalMs = 10000 }) {
    super();
    this.url = url;
    this.token = token;
    this.callId = callId;
    this.localStream = localStream;
    this.iceTransportPolicy = iceTransportPolicy;
    this.qualityIntervalMs = qualityIntervalMs;
    this.iceServers = [];
    this.peers = new Map(); // userId -> { pc, polite, makingOffer, ignoreOffer, settingAnswer, queue, stream }
    this.pending = new Map(); // requestId -> { type, resolve, reject }
    this.nextRequest = 1;
    this.userId = null;
    this.closedByUs = false;
    this.reconnectUntil = 0;
  }

  // Opens the connection and joins the call; resolves with the 'joined' message.
  async join() {
    await this.#connect();
    const joined = await this.#request({ type: 'join', callId: this.callId });
    this.#onJoined(joined);
    return joined;
  }

  leave() {
    this.closedByUs = true;
    this.#send({ type: 'leave' });
    this.#teardown({ stopLocal: true });
    this.ws?.close(1000, 'left');
  }

  // Ends the call for everyone (the call's provider; patients may end their
  // own). Resolves with the call-ended message: the server answers an
  // end-call with call-ended to everyone, the sender included.
  endCall(reason = 'completed') {
    return this.#request({ type: 'end-call', reason });
  }

  // Each peer's connection as a person would describe it, from getStats():
  // { userId, state: 'connecting'|'direct'|'relayed'|'failed', transport
  // ('udp'|'tcp'|'tls', the relayed leg's for relayed), rttMs, lossRatio,
  // jitterMs, quality: 'good'|'fair'|'poor'|null }. Loss is over the time
  // since the previous call.
  async peerStatus() {
    const out = [];
    for (const [userId, peer] of this.peers) {
      const { pc } = peer;
      const report = await pc.getStats();
      let pair = null;
      let lost = 0, received = 0, jitter = null;
      for (const s of report.values()) {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) ?? pair;
        if (!pair && s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
        if (s.type === 'inbound-rtp') {
          lost += s.packetsLost ?? 0;
          received += s.packetsReceived ?? 0;
          if (s.kind === 'audio' && s.jitter !== undefined) jitter = s.jitter * 1000;
        }
      }
      const status = { userId, state: 'connecting', transport: null, rttMs: null, lossRatio: null, jitterMs: jitter, quality: null };
      if (pc.connectionState === 'failed') status.state = 'failed';
      else if (pair && pair.state === 'succeeded' && ['connected', 'completed'].includes(pc.iceConnectionState)) {
        const local = report.get(pair.localCandidateId);
        status.state = local?.candidateType === 'relay' ? 'relayed' : 'direct';
        status.transport = status.state === 'relayed' ? (local?.relayProtocol ?? local?.protocol) : local?.protocol;
        if (pair.currentRoundTripTime !== undefined) status.rttMs = Math.round(pair.currentRoundTripTime * 1000);
      }
      const last = peer.lastCounts ?? { lost: 0, received: 0 };
      const dLost = lost - last.lost, dReceived = received - last.received;
      peer.lastCounts = { lost, received };
      if (dLost + dReceived > 0) status.lossRatio = Math.max(0, dLost) / (Math.max(0, dLost) + dReceived);
      if (status.state === 'direct' || status.state === 'relayed') status.quality = quality(status);
      out.push(status);
    }
    return out;
  }

  setMedia({ audio, video }) {
    for (const t of this.localStream?.getTracks() ?? []) {
      if (t.kind === 'audio' && audio !== undefined) t.enabled = audio;
      if (t.kind === 'video' && video !== undefined) t.enabled = video;
    }
    this.#send({ type: 'media-state', audio, video });
  }

  // Inbound media counters over all peers, from getStats().
  async stats() {
    const out = { video: { framesDecoded: 0, packetsReceived: 0 }, audio: { packetsReceived: 0 }, candidates: [] };
    for (const { pc } of this.peers.values()) {
      const report = await pc.getStats();
      for (const s of report.values()) {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          out.video.framesDecoded += s.framesDecoded ?? 0;
          out.video.packetsReceived += s.packetsReceived ?? 0;
        } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          out.audio.packetsReceived += s.packetsReceived ?? 0;
        } else if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) {
          const local = report.get(s.localCandidateId);
          out.candidates.push(local?.candidateType);
        }
      }
    }
    return out;
  }

  // --- connection ---------------------------------------------------------

  #connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, [PROTOCOL, `bearer.${this.token}`]);
      this.ws = ws;
      // Until it opens, a failure only rejects: the caller decides whether
      // to retry (one retry loop, never two). Once open, a close starts the
      // reconnection. Events of a replaced socket are ignored.
      ws.onopen = () => {
        ws.onclose = (e) => {
          if (ws === this.ws) this.#onClose(e);
        };
        this.#emit('state', { state: 'connected' });
        resolve();
      };
      ws.onerror = () => reject(new Error('signaling connection failed'));
      ws.onclose = () => reject(new Error('signaling connection failed'));
      ws.onmessage = (e) => {
        if (ws === this.ws) this.#onMessage(JSON.parse(e.data));
      };
    });
  }

  #onClose(e) {
    for (const { reject } of this.pending.values())
      reject(Object.assign(new Error(`connection closed (${e.code})`), { code: 'closed' }));
    this.pending.clear();
    this.#emit('state', { state: 'disconnected', code: e.code });
    if (e.code === 4001 && !this.closedByUs) {
      // Removed by an operator (the removed message was lost): the close frame says why.
      this.closedByUs = true;
      this.#teardown({ stopLocal: true });
      this.#emit('removed', { callId: this.callId, reason: e.reason.replace(/^removed by an operator: /, '') });
      return;
    }
    if (this.closedByUs || e.code === 4000 /* replaced by another connection */ || e.code === 4001 /* removed */) return;
    // The server keeps our slot for its grace period: come back within it.
    if (!this.reconnectUntil) this.reconnectUntil = Date.now() + 25000;
    this.#reconnect(500);
  }

  async #reconnect(delayMs) {
    if (this.closedByUs || Date.now() > this.reconnectUntil) {
      this.#teardown();
      this.#emit('state', { state: 'gone' });
      return;
    }
    await new Promise((r) => setTimeout(r, delayMs));
    try {
      await this.#connect();
      const joined = await this.#request({ type: 'join', callId: this.callId });
      this.reconnectUntil = 0;
      this.#onJoined(joined);
      for (const peer of this.peers.values()) peer.pc.restartIce(); // the network may have changed too
    } catch (e) {
      if (e.code === 'removed') {
        // Removed by an operator while disconnected: coming back is refused for good.
        this.closedByUs = true;
        this.#teardown({ stopLocal: true });
        this.ws?.close(1000, 'removed');
        this.#emit('removed', { callId: this.callId, reason: e.message });
        return;
      }
      this.#reconnect(Math.min(delayMs * 2, 4000));
    }
  }

  #send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  #request(message) {
    const requestId = String(this.nextRequest++);
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { type: message.type, resolve, reject });
      this.#send({ ...message, requestId });
    });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #onMessage(msg) {
    const waiting = msg.requestId !== undefined && this.pending.get(String(msg.requestId));
    if (waiting) {
      this.pending.delete(String(msg.requestId));
      if (msg.type === 'error') waiting.reject(Object.assign(new Error(msg.message), { code: msg.code }));
      else waiting.resolve(msg);
      if (msg.type === 'joined') return; // handled by the caller of #request
    }
    switch (msg.type) {
      case 'participant-joined':
        // The newcomer offers; this side answers when its offer arrives (no glare on the first negotiation).
        this.#emit('participant-joined', msg);
        break;
      case 'participant-left':
        this.#dropPeer(msg.userId);
        this.#emit('participant-left', msg);
        break;
      case 'participant-reconnecting':
        this.#emit('participant-reconnecting', msg);
        break;
      case 'offer':
      case 'answer':
        this.#inOrder(msg.from, () => this.#onDescription(msg.from, msg.sdp));
        break;
      case 'ice-candidate':
        this.#inOrder(msg.from, () => this.#onCandidate(msg.from, msg.candidate));
        break;
      case 'media-state':
        this.#emit('media-state', msg);
        break;
      case 'ice-servers':
        this.iceServers = msg.iceServers;
        for (const { pc } of this.peers.values()) pc.setConfiguration({ ...pc.getConfiguration(), iceServers: this.iceServers });
        break;
      case 'call-ended':
        // The end is committed: an end-call of ours is answered by this
        // (whoever's end came first); anything else still waiting cannot be.
        for (const [id, waiter] of this.pending) {
          if (waiter.type === 'end-call') waiter.resolve(msg);
          else waiter.reject(Object.assign(new Error('the call has ended'), { code: 'call_ended' }));
          this.pending.delete(id);
        }
        this.closedByUs = true;
        this.#teardown({ stopLocal: true });
        this.#emit('call-ended', msg);
        this.ws?.close(1000, 'call ended');
        break;
      case 'removed':
        // An operator took this participant out of the call; it cannot rejoin it.
        for (const waiter of this.pending.values()) waiter.reject(Object.assign(new Error('removed from the call'), { code: 'removed' }));
        this.pending.clear();
        this.closedByUs = true;
        this.#teardown({ stopLocal: true });
        this.#emit('removed', msg);
        break;
      case 'error':
        if (!waiting) this.#emit('error', msg);
        break;
    }
  }

  #onJoined(joined) {
    this.userId = joined.userId;
    this.iceServers = joined.iceServers;
    this.#emit('joined', joined);
    // Newcomer or returning: a connection to everyone already there.
    for (const p of joined.participants) if (p.state === 'connected') this.#peer(p.userId);
    this.#startQualityReports();
  }

  // --- peers (perfect negotiation) ----------------------------------------

  // The connection to one participant. With addTracks false (it is being
  // created to answer that participant's offer), the local tracks are added
  // after the offer is applied, so they ride the offer's transceivers.
  #peer(userId, { addTracks = true } = {}) {
    let peer = this.peers.get(userId);
    if (peer) return peer;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, iceTransportPolicy: this.iceTransportPolicy });
    // The polite peer yields on an offer collision; the order is the same on both sides.
    peer = { pc, polite: this.userId > userId, makingOffer: false, ignoreOffer: false, settingAnswer: false, queue: Promise.resolve(), stream: null, tracksAdded: false };
    this.peers.set(userId, peer);
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        this.#emit('debug', { message: `offer to ${userId}` });
        this.#send({ type: 'offer', to: userId, sdp: pc.localDescription.toJSON() });
      } catch (err) {
        this.#emit('error', { code: 'negotiation', message: String(err) });
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      peer.candidatesSent = (peer.candidatesSent ?? 0) + 1;
      this.#send({ type: 'ice-candidate', to: userId, candidate: candidate ? candidate.toJSON() : null });
    };
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === 'failed') this.#restartIce(peer, 'ICE failed', { now: true });
      if (pc.iceConnectionState === 'disconnected') {
        setTimeout(() => pc.iceConnectionState === 'disconnected' && this.#restartIce(peer, 'ICE disconnected'), DISCONNECTED_GRACE_MS);
      }
    };
    peer.pathTimer = setInterval(() => this.#checkPath(peer).catch(() => {}), PATH_CHECK_MS);
    pc.ontrack = ({ track, streams }) => {
      peer.stream = streams[0] ?? peer.stream ?? new MediaStream();
      if (!streams[0]) peer.stream.addTrack(track);
      this.#emit('track', { userId, track, stream: peer.stream });
    };
    if (addTracks) this.#addTracks(peer);
    return peer;
  }

  // --- path watch and ICE restart -------------------------------------------

  async #checkPath(peer) {
    const { pc } = peer;
    if (pc.iceConnectionState !== 'connected' && pc.iceConnectionState !== 'completed') return;
    const report = await pc.getStats();
    for (const s of report.values()) {
      if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
      const pairId = s.selectedCandidatePairId;
      if (peer.selectedPair && pairId !== peer.selectedPair && peer.restartedAt &&
          peer.keyFrameFor !== peer.restartedAt && Date.now() - peer.restartedAt < KEY_FRAME_AFTER_RESTART_MS) {
        peer.keyFrameFor = peer.restartedAt;
        this.#restartEncoding(peer);
      }
      peer.selectedPair = pairId;
      const pair = report.get(pairId);
      const silentMs = pair?.lastPacketReceivedTimestamp ? pair.timestamp - pair.lastPacketReceivedTimestamp : 0;
      if (silentMs > PATH_STALL_MS) this.#restartIce(peer, `nothing received on the selected path for ${Math.round(silentMs)} ms`);
    }
  }

  #restartIce(peer, why, { now = false } = {}) {
    if (peer.pc.signalingState === 'closed') return;
    if (!now && Date.now() - (peer.restartedAt ?? 0) < RESTART_MIN_INTERVAL_MS) return;
    peer.restartedAt = Date.now();
    this.#emit('debug', { message: `ICE restart: ${why}` });
    peer.pc.restartIce(); // negotiationneeded: a new offer with new ICE credentials
  }

  // Pausing and resuming a video encoding makes the encoder start again with
  // a key frame.
  async #restartEncoding(peer) {
    for (const sender of peer.pc.getSenders()) {
      if (sender.track?.kind !== 'video' || !sender.getParameters().encodings?.length) continue;
      for (const active of [false, true]) {
        const params = sender.getParameters();
        params.encodings[0].active = active;
        await sender.setParameters(params);
      }
      this.#emit('debug', { message: 'video encoding restarted on the new path (key frame)' });
    }
  }

  #addTracks(peer) {
    if (peer.tracksAdded) return;
    peer.tracksAdded = true;
    for (const track of this.localStream?.getTracks() ?? []) peer.pc.addTrack(track, this.localStream);
  }

  #inOrder(userId, work) {
    const peer = this.#peer(userId, { addTracks: false });
    peer.queue = peer.queue.then(work).catch((err) => this.#emit('error', { code: 'negotiation', message: String(err) }));
  }

  async #onDescription(from, description) {
    const peer = this.#peer(from, { addTracks: false });
    const { pc } = peer;
    const readyForOffer = !peer.makingOffer && (pc.signalingState === 'stable' || peer.settingAnswer);
    const collision = description.type === 'offer' && !readyForOffer;
    peer.ignoreOffer = !peer.polite && collision;
    this.#emit('debug', { message: `${description.type} from ${from}${collision ? ' (collision)' : ''}${peer.ignoreOffer ? ' ignored' : ''}` });
    if (peer.ignoreOffer) return;
    // An offer with new ICE credentials: the other side restarts ICE (maybe
    // after the same network change); no restart of ours on top of it.
    const ufrag = (sdp) => /^a=ice-ufrag:(\S+)/m.exec(sdp ?? '')?.[1];
    if (description.type === 'offer' && pc.remoteDescription && ufrag(description.sdp) !== ufrag(pc.remoteDescription.sdp)) {
      peer.restartedAt = Date.now();
    }
    peer.settingAnswer = description.type === 'answer';
    await pc.setRemoteDescription(description);
    peer.settingAnswer = false;
    if (description.type === 'offer') {
      this.#addTracks(peer);
      await pc.setLocalDescription();
      this.#send({ type: 'answer', to: from, sdp: pc.localDescription.toJSON() });
    }
  }

  async #onCandidate(from, candidate) {
    const peer = this.#peer(from, { addTracks: false });
    try {
      await peer.pc.addIceCandidate(candidate ?? undefined);
      peer.candidatesAdded = (peer.candidatesAdded ?? 0) + 1;
    } catch (err) {
      peer.candidatesFailed = (peer.candidatesFailed ?? 0) + 1;
      if (!peer.ignoreOffer) throw err;
    }
  }

  #dropPeer(userId) {
    const peer = this.peers.get(userId);
    if (!peer) return;
    clearInterval(peer.pathTimer);
    peer.pc.close();
    this.peers.delete(userId);
  }

  #teardown({ stopLocal = false } = {}) {
    clearInterval(this.qualityTimer);
    for (const userId of [...this.peers.keys()]) this.#dropPeer(userId);
    // The call is over for us: the camera and microphone go off.
    if (stopLocal) for (const t of this.localStream?.getTracks() ?? []) t.stop();
  }

  // --- quality reports ----------------------------------------------------

  // The selected candidate pair as the operator's live view shows it: the
  // candidate types, the transport protocol, and for a relayed path the
  // protocol of the leg to the TURN server (udp, tcp or tls).
  #pathOf(stats, pair) {
    if (!pair || pair.state !== 'succeeded') return null;
    const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
    if (!local?.candidateType) return null;
    const path = { localCandidateType: local.candidateType, remoteCandidateType: remote?.candidateType, protocol: local.protocol };
    if (local.candidateType === 'relay' && local.relayProtocol) path.relayProtocol = local.relayProtocol;
    return path;
  }

  #startQualityReports() {
    clearInterval(this.qualityTimer);
    let last = null;
    this.qualityTimer = setInterval(async () => {
      let rtt = null, jitter = null, lost = 0, received = 0, bytes = 0, path = null;
      for (const { pc } of this.peers.values()) {
        const stats = await pc.getStats();
        for (const s of stats.values()) {
          if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime * 1000;
          if (s.type === 'transport' && s.selectedCandidatePairId && !path) path = this.#pathOf(stats, stats.get(s.selectedCandidatePairId));
          if (s.type === 'inbound-rtp') {
            lost += s.packetsLost ?? 0;
            received += s.packetsReceived ?? 0;
            bytes += s.bytesReceived ?? 0;
            if (s.kind === 'audio' && s.jitter !== undefined) jitter = s.jitter * 1000;
          }
        }
      }
      const now = Date.now();
      // Loss over the interval since the previous report (the first: since the start).
      const dLost = Math.max(0, lost - (last?.lost ?? 0)), dReceived = Math.max(0, received - (last?.received ?? 0));
      const report = { type: 'quality-report', packetLoss: dLost + dReceived > 0 ? dLost / (dLost + dReceived) : 0 };
      // A media connection that failed (ICE found no path, or lost it and
      // its restart did not help) is counted by the server as a call failure.
      if ([...this.peers.values()].some(({ pc }) => pc.connectionState === 'failed')) report.connectionState = 'failed';
      if (rtt !== null) report.rttMs = Math.round(rtt);
      if (jitter !== null) report.jitterMs = Math.round(jitter);
      if (last) report.bitrateKbps = Math.round(((bytes - last.bytes) * 8) / (now - last.at));
      if (path) Object.assign(report, path);
      last = { bytes, lost, received, at: now };
      if (this.peers.size) this.#send(report);
    }, this.qualityIntervalMs);
  }
}
