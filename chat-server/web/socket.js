// One WebSocket per tab: reconnect with backoff, re-authenticate in band
// when the tokens are refreshed, and an outbox that keeps every send until
// the server has answered it, so nothing typed is lost or stored twice.

import { onTokens, refresh, session } from './api.js';

const OUTBOX_KEY = 'chat.outbox';
const PING_EVERY = 20_000;
const PONG_WITHIN = 10_000;
// Errors after which resending the same frame can succeed.
const RETRYABLE = new Set(['STORE_UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL']);

export class ChatSocket {
  /**
   * `onFrame(frame)` gets every server frame; `onState(state)` gets
   * `connecting`, `open` or `offline`; `onOpen()` runs after each connect.
   */
  constructor({ onFrame, onState, onOpen, onSendFailed }) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.onOpen = onOpen;
    this.onSendFailed = onSendFailed;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.stopped = false;
    this.outbox = loadOutbox();
    onTokens((tokens) => this.send({ type: 'auth', token: tokens.accessToken }));
    window.addEventListener('offline', () => this.drop('offline'));
    window.addEventListener('online', () => this.connectSoon(0));
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    if (this.stopped || this.ws) return;
    const current = session.get();
    if (!current) return;
    if (!navigator.onLine) {
      this.onState('offline');
      return;
    }
    this.onState('connecting');
    const url = new URL('ws', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', current.accessToken);
    const ws = new WebSocket(url);
    this.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      this.attempt = 0;
      this.onState('open');
      this.heartbeat();
      // Whatever waited in the outbox goes first, in the order it was typed;
      // the server answers a repeated client_msg_id with the original.
      for (const frame of this.outbox.values()) ws.send(JSON.stringify(frame));
      this.onOpen();
    });
    ws.addEventListener('message', (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.heartbeat();
      this.settle(frame);
      this.onFrame(frame);
    });
    ws.addEventListener('close', async (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopHeartbeat();
      if (this.stopped) return;
      this.onState(navigator.onLine ? 'connecting' : 'offline');
      // 4001: the token expired or the session was revoked. An upgrade
      // refused with 401 looks like a close before open.
      if (event.code === 4001 || !opened) {
        try {
          await refresh();
        } catch (err) {
          if (err.status === 401) return; // refresh() has ended the session
        }
      }
      this.connectSoon();
    });
  }

  /** Reconnects after a backoff: 0.5 s, 1 s, 2 s … up to 30 s, with jitter. */
  connectSoon(delay) {
    clearTimeout(this.timer);
    const wait = delay ?? Math.min(30_000, 500 * 2 ** this.attempt++) * (0.75 + Math.random() / 2);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  /** Closes the socket (the browser went offline, or a heartbeat went unanswered). */
  drop(state) {
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    if (ws) ws.close();
    this.onState(state);
    if (state !== 'offline') this.connectSoon();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopHeartbeat();
    if (this.ws) this.ws.close(1000);
  }

  /** Sends a frame now, or drops it when the socket is down (not for messages). */
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a message frame (it carries a `client_msg_id`); kept until answered. */
  sendMessage(frame) {
    this.outbox.set(frame.client_msg_id, frame);
    saveOutbox(this.outbox);
    this.send(frame);
  }

  /** Frames still waiting for `message.sent`, oldest first. */
  pending() {
    return [...this.outbox.values()];
  }

  /** Takes a frame out of the outbox once the server answered it for good. */
  settle(frame) {
    const id = frame.client_msg_id;
    if (!id || !this.outbox.has(id)) return;
    if (frame.type === 'message.sent') {
      this.outbox.delete(id);
    } else if (frame.type === 'error') {
      if (RETRYABLE.has(frame.code)) {
        const retry = this.outbox.get(id);
        setTimeout(() => this.outbox.has(id) && this.send(retry), (frame.retry_after || 2) * 1000);
        return;
      }
      this.outbox.delete(id);
      this.onSendFailed(id, frame);
    } else {
      return;
    }
    saveOutbox(this.outbox);
  }

  heartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setTimeout(() => {
      if (!this.send({ type: 'ping' })) return;
      this.pongTimer = setTimeout(() => this.drop('connecting'), PONG_WITHIN);
    }, PING_EVERY);
  }

  stopHeartbeat() {
    clearTimeout(this.pingTimer);
    clearTimeout(this.pongTimer);
  }
}

function loadOutbox() {
  try {
    return new Map(JSON.parse(sessionStorage.getItem(OUTBOX_KEY)) || []);
  } catch {
    return new Map();
  }
}

function saveOutbox(outbox) {
  sessionStorage.setItem(OUTBOX_KEY, JSON.stringify([...outbox]));
}

/** A fresh client_msg_id (printable ASCII, at most 64 characters). */
export function newClientMsgId() {
  return 'web-' + crypto.randomUUID();
}
