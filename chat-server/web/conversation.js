// One conversation's messages (a Thread) and the pane that shows the open
// one: history paging, gap detection, sent/delivered/read marks, "seen by",
// the typing line, and the day separators, "New messages" divider and
// sender runs that timeline.js lays out.

import { api } from './api.js';
import { $, el, fullTime, shortTime } from './dom.js';
import { layout } from './timeline.js';

const PAGE = 50;
const TYPING_SHOWN_FOR = 6_000;

/** What the client knows of one conversation's messages. */
export class Thread {
  constructor(summary) {
    this.id = summary.conversation_id;
    this.summary = summary;
    /** seq → message */
    this.messages = new Map();
    /** client_msg_id → {content, createdAt, failed?} of own sends not yet stored */
    this.pending = new Map();
    this.loaded = false;
    this.hasMore = false;
    this.loadingOlder = false;
    this.syncing = false;
    // Direct: the peer's cursors. Group: every member's.
    this.peerDelivered = 0;
    this.peerRead = 0;
    this.memberDelivered = new Map();
    this.memberRead = new Map();
    /** Group members ({user_id, username, display_name, role}) */
    this.members = null;
    /** user_id → timer of a shown typing indicator */
    this.typing = new Map();
  }

  get isGroup() {
    return this.summary.kind === 'group';
  }

  get maxSeq() {
    let max = 0;
    for (const seq of this.messages.keys()) if (seq > max) max = seq;
    return max;
  }

  get oldest() {
    let oldest = null;
    for (const m of this.messages.values()) if (!oldest || m.seq < oldest.seq) oldest = m;
    return oldest;
  }

  /** Adds a stored message; false when it was already there. */
  add(message) {
    if (this.messages.has(message.seq)) return false;
    this.messages.set(message.seq, message);
    if (message.client_msg_id) this.pending.delete(message.client_msg_id);
    return true;
  }

  /** True when `seq` leaves a hole after what this thread holds. */
  hasGapBefore(seq) {
    return this.loaded && this.messages.size > 0 && seq > this.maxSeq + 1;
  }

  /** The seq of the first message after `readSeq` that someone else sent, or null. */
  firstUnreadAfter(readSeq, me) {
    let first = null;
    for (const m of this.messages.values()) {
      if (m.seq > readSeq && m.sender_id !== me && (first === null || m.seq < first)) first = m.seq;
    }
    return first;
  }

  /** Records cursors found in loaded history (direct messages carry them). */
  learnCursors(message, me) {
    if (message.sender_id !== me) return;
    if (message.read_at) this.peerRead = Math.max(this.peerRead, message.seq);
    if (message.delivered_at || message.read_at) this.peerDelivered = Math.max(this.peerDelivered, message.seq);
  }

  /** A member's cursor moved (a `message.read` or `message.delivered` frame). */
  cursor(kind, userId, seq) {
    if (this.isGroup) {
      const map = kind === 'read' ? this.memberRead : this.memberDelivered;
      map.set(userId, Math.max(map.get(userId) || 0, seq));
      if (kind === 'read') this.cursor('delivered', userId, seq);
    } else if (kind === 'read') {
      this.peerRead = Math.max(this.peerRead, seq);
      this.peerDelivered = Math.max(this.peerDelivered, seq);
    } else {
      this.peerDelivered = Math.max(this.peerDelivered, seq);
    }
  }

  /** `read`, `delivered` or `sent` for an own stored message. */
  markOf(message, me) {
    if (!this.isGroup) {
      if (message.seq <= this.peerRead) return 'read';
      if (message.seq <= this.peerDelivered) return 'delivered';
      return 'sent';
    }
    const others = (this.members || []).filter((m) => m.user_id !== me);
    if (others.length === 0) return 'sent';
    const all = (map) => others.every((m) => (map.get(m.user_id) || 0) >= message.seq);
    if (all(this.memberRead)) return 'read';
    if (all(this.memberDelivered)) return 'delivered';
    return 'sent';
  }

  /** Members other than `me` who have read `seq`. */
  seenBy(seq, me) {
    return (this.members || []).filter((m) => m.user_id !== me && (this.memberRead.get(m.user_id) || 0) >= seq);
  }

  /** Loads the newest page of history (first open). */
  async load(me) {
    const page = await api('GET', `conversations/${this.id}/messages?limit=${PAGE}`);
    for (const m of page.messages) {
      this.add(m);
      this.learnCursors(m, me);
    }
    this.hasMore = page.has_more;
    this.loaded = true;
    if (this.isGroup) await this.loadMembers(me);
  }

  /** Loads the page before the oldest message held; false when there was none. */
  async loadOlder(me) {
    const oldest = this.oldest;
    if (!this.hasMore || this.loadingOlder || !oldest) return false;
    this.loadingOlder = true;
    try {
      const page = await api('GET', `conversations/${this.id}/messages?limit=${PAGE}&before=${oldest.message_id}`);
      for (const m of page.messages) {
        this.add(m);
        this.learnCursors(m, me);
      }
      this.hasMore = page.has_more;
      return page.messages.length > 0;
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Loads the group's members and what they have read of the newest own message. */
  async loadMembers(me) {
    const group = await api('GET', `groups/${this.id}`);
    this.members = group.members;
    let newestOwn = null;
    for (const m of this.messages.values()) if (m.sender_id === me && (!newestOwn || m.seq > newestOwn.seq)) newestOwn = m;
    if (!newestOwn) return;
    const receipts = await api('GET', `conversations/${this.id}/messages/${newestOwn.message_id}/receipts`);
    for (const r of receipts.receipts) {
      if (r.read_at) this.cursor('read', r.user_id, receipts.seq);
      else if (r.delivered_at) this.cursor('delivered', r.user_id, receipts.seq);
    }
  }

  /** Shows `userId` typing (or stops); calls `changed` when the indicator changes. */
  setTyping(userId, isTyping, changed) {
    clearTimeout(this.typing.get(userId));
    if (isTyping) {
      this.typing.set(
        userId,
        setTimeout(() => {
          this.typing.delete(userId);
          changed();
        }, TYPING_SHOWN_FOR),
      );
    } else {
      this.typing.delete(userId);
    }
    changed();
  }
}

const MARKS = {
  pending: ['🕓', 'Sending…'],
  failed: ['!', 'Not sent'],
  sent: ['✓', 'Sent'],
  delivered: ['✓✓', 'Delivered'],
  read: ['✓✓', 'Read'],
};

/** The conversation pane: renders the open Thread into the page. */
export class ConversationView {
  /** `names(userId)` gives a display name; `onNearTop()` asks for older history. */
  constructor({ names, onNearTop }) {
    this.names = names;
    this.thread = null;
    this.me = null;
    /** Key (`seq:N`) of the message the "New messages" divider goes before. */
    this.firstUnread = null;
    this.list = $('#message-list');
    this.scroller = $('#messages');
    this.nodes = new Map();
    this.scroller.addEventListener('scroll', () => {
      if (this.thread && this.scroller.scrollTop < 120) onNearTop();
    });
  }

  /**
   * Shows `thread` (already loaded). `firstUnread`: the seq of the first
   * message that was unread on opening; the divider goes before it, and the
   * view opens there instead of at the newest message. It stays until the
   * conversation is shown again.
   */
  show(thread, me, { firstUnread = null } = {}) {
    this.thread = thread;
    this.me = me;
    this.firstUnread = firstUnread ? 'seq:' + firstUnread : null;
    this.nodes.clear();
    this.list.replaceChildren();
    this.render(this.firstUnread ? { reveal: true } : { stick: true });
  }

  isShowing(conversationId) {
    return this.thread !== null && this.thread.id === conversationId;
  }

  /** Distance from the bottom, to keep the view still while older pages load. */
  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  /**
   * Brings the list in line with the thread, reusing existing nodes.
   * `stick`: scroll to the newest message; `keep`: keep the view where it
   * is while older messages are added above; `reveal`: scroll to the "New
   * messages" divider.
   */
  render({ stick = false, keep = false, reveal = false } = {}) {
    const thread = this.thread;
    if (!thread) return;
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    const follow = stick || this.nearBottom();
    const ordered = [...thread.messages.values()].sort((a, b) => a.seq - b.seq);
    let lastOwn = null;
    for (const m of ordered) if (m.sender_id === this.me) lastOwn = m;

    // Sends not stored yet come last, as written now.
    const now = Date.now();
    const entries = [
      ...ordered.map((m) => ({ key: 'seq:' + m.seq, sender: m.sender_id, at: Date.parse(m.created_at), message: m })),
      ...[...thread.pending].map(([id, p]) => ({ key: 'pending:' + id, sender: this.me, at: now, pendingId: id, pending: p })),
    ];
    const wanted = layout(entries, { firstUnread: this.firstUnread, now }).map((item) => {
      if (item.kind === 'day') return this.separatorNode(item.key, 'day', item.label);
      if (item.kind === 'new') return this.separatorNode('new', 'new-messages', 'New messages');
      const { entry, continued } = item;
      const node = entry.message
        ? this.messageNode(entry.message, entry.message === lastOwn)
        : this.pendingNode(entry.pendingId, entry.pending);
      node.classList.toggle('continued', continued);
      return node;
    });

    wanted.forEach((node, i) => {
      if (this.list.children[i] !== node) this.list.insertBefore(node, this.list.children[i] || null);
    });
    while (this.list.children.length > wanted.length) this.list.lastElementChild.remove();

    $('#history-state').textContent = thread.hasMore
      ? 'Scroll up for older messages'
      : ordered.length
        ? 'This is the beginning of the conversation.'
        : 'No messages yet. Say hello!';
    const divider = this.nodes.get('new');
    if (keep) this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    else if (reveal && divider?.isConnected) this.scrollToTop(divider);
    else if (follow) this.scroller.scrollTop = this.scroller.scrollHeight;
    this.renderTyping();
  }

  /** Scrolls so that `node` sits at the top of the pane (as far as the content allows). */
  scrollToTop(node) {
    const offset = node.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top;
    this.scroller.scrollTop += offset - 8;
  }

  /** A day separator or the "New messages" divider. */
  separatorNode(key, kind, label) {
    let node = this.nodes.get(key);
    if (!node) {
      node = el('li', { class: 'separator ' + kind }, el('span', {}));
      this.nodes.set(key, node);
    }
    // A day's label changes at midnight ("Today" becomes "Yesterday").
    node.firstChild.textContent = label;
    return node;
  }

  messageNode(m, isLastOwn) {
    const key = 'seq:' + m.seq;
    let node = this.nodes.get(key);
    const mine = m.sender_id === this.me;
    if (!node) {
      node = el(
        'li',
        { class: mine ? 'message mine' : 'message theirs', dataset: { seq: m.seq, messageId: m.message_id } },
        el(
          'div',
          { class: 'bubble' },
          this.thread.isGroup && !mine ? el('span', { class: 'sender', text: this.names(m.sender_id) }) : null,
          el('p', { class: 'content', text: m.content }),
          el(
            'span',
            { class: 'meta' },
            el('time', { datetime: m.created_at, title: fullTime(m.created_at), text: shortTime(m.created_at) }),
            mine ? el('span', { class: 'mark', role: 'img' }) : null,
          ),
        ),
      );
      this.nodes.set(key, node);
    }
    if (mine) {
      const mark = this.thread.markOf(m, this.me);
      this.setMark(node, mark);
      // Under the newest own message: who has seen it (groups) or its state.
      let status = '';
      if (isLastOwn && this.thread.isGroup) {
        const seen = this.thread.seenBy(m.seq, this.me);
        if (seen.length) status = 'Seen by ' + seen.map((u) => u.display_name || u.username).join(', ');
      } else if (isLastOwn) {
        status = MARKS[mark][1];
      }
      this.setStatus(node, status);
    } else if (this.thread.isGroup) {
      $('.sender', node).textContent = this.names(m.sender_id);
    }
    return node;
  }

  pendingNode(clientMsgId, p) {
    const key = 'pending:' + clientMsgId;
    let node = this.nodes.get(key);
    if (!node) {
      node = el(
        'li',
        { class: 'message mine pending', dataset: { clientMsgId } },
        el(
          'div',
          { class: 'bubble' },
          el('p', { class: 'content', text: p.content }),
          el('span', { class: 'meta' }, el('span', { class: 'mark', role: 'img' })),
        ),
        el('p', { class: 'send-error' }),
      );
      this.nodes.set(key, node);
    }
    this.setMark(node, p.failed ? 'failed' : 'pending');
    $('.send-error', node).textContent = p.failed ? `Not sent: ${p.failed}` : '';
    node.classList.toggle('failed', Boolean(p.failed));
    return node;
  }

  setMark(node, mark) {
    const span = $('.mark', node);
    if (span.dataset.mark === mark) return;
    const [symbol, label] = MARKS[mark];
    span.dataset.mark = mark;
    span.textContent = symbol;
    span.title = label;
    span.setAttribute('aria-label', label);
  }

  setStatus(node, text) {
    let line = $('.receipt', node);
    if (!text) {
      if (line) line.remove();
      return;
    }
    if (!line) {
      line = el('p', { class: 'receipt' });
      node.append(line);
    }
    line.textContent = text;
  }

  renderTyping() {
    const thread = this.thread;
    const who = thread ? [...thread.typing.keys()].filter((id) => id !== this.me).map(this.names) : [];
    $('#typing').textContent =
      who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…` : `${who.join(' and ')} are typing…`;
  }
}
