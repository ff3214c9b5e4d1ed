// One conversation's messages (a Thread) and the pane that shows the open
// one: history paging, gap detection, changes (edits, deletions,
// reactions) applied in log order, sent/delivered/read marks, "seen by",
// the typing line, and the day separators, "New messages" divider and
// sender runs that timeline.js lays out. message.js builds what a message
// shows besides its marks (quote, text with mentions, reactions, actions).

import { api } from './api.js';
import { download, filesNode, openImage } from './attachments.js';
import { $, el, shortTime } from './dom.js';
import { editorNode, excerpt, messageBody, quoteNode } from './message.js';
import { layout } from './timeline.js';

const PAGE = 50;
/** The fields of a message that changes touch. */
const STATE = ['content', 'edited_at', 'deleted_at', 'mentions', 'reply_to', 'reply', 'reactions', 'attachments'];
const TYPING_SHOWN_FOR = 6_000;

/** What the client knows of one conversation's messages. */
export class Thread {
  constructor(summary) {
    this.id = summary.conversation_id;
    this.summary = summary;
    /** seq → message */
    this.messages = new Map();
    /** message_id → message */
    this.byId = new Map();
    /**
     * The newest log entry known (a message or a change: both take seqs of
     * one sequence), so a change is never mistaken for a gap.
     */
    this.logSeq = 0;
    /**
     * What this tab asked to change and the server has not confirmed yet,
     * shown meanwhile: message_id → {edit?: {content, at, requestId},
     * deleted?: {at, requestId}, reactions: Map(emoji → {on, requestId})}.
     */
    this.local = new Map();
    /** The message the composer answers (its id), or null. */
    this.replyingTo = null;
    /** client_msg_id → {content, attachments, reply?, failed?} of own sends not yet stored */
    this.pending = new Map();
    this.loaded = false;
    this.hasMore = false;
    /**
     * True while the messages held are a window around an older message
     * (a jump from search, or to a quote further back) that does not reach
     * the newest one: newer pages load as the view scrolls down, and live
     * messages wait for them.
     */
    this.hasNewer = false;
    this.loadingOlder = false;
    this.loadingNewer = false;
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

  /**
   * Adds a stored message; false when nothing changed. A message already
   * held takes the state of a fuller copy (a catch-up or `sync` gives
   * messages as they are now, with their mentions and reactions).
   */
  add(message) {
    this.noteSeq(message.seq);
    const held = this.messages.get(message.seq);
    if (held) {
      if (!Array.isArray(message.reactions)) return false;
      const before = JSON.stringify(held);
      for (const key of STATE) if (message[key] !== undefined) held[key] = message[key];
      return JSON.stringify(held) !== before;
    }
    this.messages.set(message.seq, message);
    this.byId.set(message.message_id, message);
    if (message.client_msg_id) this.pending.delete(message.client_msg_id);
    return true;
  }

  /** Records that the log reaches at least `seq`. */
  noteSeq(seq) {
    if (seq > this.logSeq) this.logSeq = seq;
  }

  /** True when `seq` leaves a hole after the newest log entry known (message or change). */
  hasGapBefore(seq) {
    return this.loaded && this.logSeq > 0 && seq > this.logSeq + 1;
  }

  /**
   * Applies a change (a `message.changed` frame, or an entry of a batch's
   * `changes`), in seq order. Returns true when something shown changed.
   * Reaction counts are absolute; `me` follows when the actor is `me`.
   * Applying a change twice is harmless.
   */
  applyChange(c, me) {
    this.noteSeq(c.seq);
    let changed = false;
    // Quotes of the message, held or not.
    for (const other of this.messages.values()) {
      if (other.reply_to !== c.message_id || !other.reply) continue;
      if (c.change === 'deleted') other.reply = { ...other.reply, deleted: true, excerpt: '' };
      else if (c.change === 'edited' && c.content) other.reply = { ...other.reply, excerpt: excerpt(c.content) };
      else continue;
      changed = true;
    }
    const m = this.byId.get(c.message_id);
    if (!m || (m.appliedSeq || 0) >= c.seq) return changed;
    // A tombstone takes no more changes (a replayed older one included).
    if (m.deleted_at && c.change !== 'deleted') return changed;
    m.appliedSeq = c.seq;
    switch (c.change) {
      case 'edited':
        if (c.content !== undefined) m.content = c.content;
        if (c.edited_at !== undefined) m.edited_at = c.edited_at;
        m.mentions = c.mentions || [];
        break;
      case 'deleted':
        m.deleted_at = m.deleted_at || c.at;
        m.content = '';
        m.mentions = [];
        m.reactions = [];
        m.attachments = [];
        break;
      case 'reaction_added':
      case 'reaction_removed': {
        const list = (m.reactions = [...(m.reactions || [])]);
        let i = list.findIndex((r) => r.emoji === c.emoji);
        if (i < 0) i = list.push({ emoji: c.emoji, count: 0, me: false }) - 1;
        const r = (list[i] = { ...list[i], count: c.count ?? list[i].count });
        if (c.actor_id === me) r.me = c.change === 'reaction_added';
        if (r.count <= 0) list.splice(i, 1);
        break;
      }
      default:
        return changed;
    }
    this.settle(m, c, me);
    return true;
  }

  /** Drops what this tab asked for once the server's state shows it. */
  settle(m, c, me) {
    const local = this.local.get(m.message_id);
    if (!local) return;
    if (m.deleted_at) {
      this.local.delete(m.message_id);
      return;
    }
    if (local.edit && c.change === 'edited' && c.actor_id === me && m.content === local.edit.content) delete local.edit;
    for (const [emoji, wish] of local.reactions) {
      const r = (m.reactions || []).find((x) => x.emoji === emoji);
      if (Boolean(r?.me) === wish.on) local.reactions.delete(emoji);
    }
    this.dropLocalIfEmpty(m.message_id);
  }

  /** The pending changes of a message, created on first use. */
  localOf(messageId) {
    let local = this.local.get(messageId);
    if (!local) {
      local = { reactions: new Map() };
      this.local.set(messageId, local);
    }
    return local;
  }

  dropLocalIfEmpty(messageId) {
    const local = this.local.get(messageId);
    if (local && !local.edit && !local.deleted && local.reactions.size === 0) this.local.delete(messageId);
  }

  /** A message as shown: the server's state with this tab's unconfirmed changes on top. */
  effective(m) {
    const local = this.local.get(m.message_id);
    if (!local) return m;
    const v = { ...m };
    if (local.deleted) return { ...v, deleted_at: local.deleted.at, content: '', mentions: [], reactions: [], attachments: [] };
    if (local.edit) Object.assign(v, { content: local.edit.content, edited_at: local.edit.at });
    if (local.reactions.size) {
      const list = (v.reactions || []).map((r) => ({ ...r }));
      for (const [emoji, wish] of local.reactions) {
        let r = list.find((x) => x.emoji === emoji);
        if (wish.on && !r?.me) {
          if (!r) list.push((r = { emoji, count: 0, me: false }));
          r.count += 1;
          r.me = true;
        } else if (!wish.on && r?.me) {
          r.count -= 1;
          r.me = false;
        }
      }
      v.reactions = list.filter((r) => r.count > 0);
    }
    return v;
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
    // The log up to the summary's last_seq (messages and changes) is in the
    // page that follows, messages as they are now: no gap to fill there.
    const known = this.summary.last_seq || 0;
    const page = await api('GET', `conversations/${this.id}/messages?limit=${PAGE}`);
    this.noteSeq(known);
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

  /**
   * Makes sure message `messageId` is held, with a page around it
   * (`?around=`). A page that shares no message with those held replaces
   * them: the thread becomes a window (`hasNewer`) until newer pages reach
   * the present. True when the message is held.
   */
  async loadAround(messageId, me) {
    if (this.byId.has(messageId)) return true;
    const page = await api('GET', `conversations/${this.id}/messages?limit=${PAGE}&around=${messageId}`);
    const joins = page.messages.some((m) => this.messages.has(m.seq));
    const oldest = this.oldest;
    if (!joins) {
      this.messages.clear();
      this.byId.clear();
    }
    for (const m of page.messages) {
      this.add(m);
      this.learnCursors(m, me);
    }
    if (!joins || !oldest || this.oldest.seq < oldest.seq) this.hasMore = page.has_more;
    if (!joins) this.hasNewer = page.has_newer;
    else if (!page.has_newer) this.hasNewer = false;
    return this.byId.has(messageId);
  }

  /** Loads the page after the newest message held, while the thread is a window; false when there was none. */
  async loadNewer(me) {
    if (!this.hasNewer || this.loadingNewer) return false;
    let newest = null;
    for (const m of this.messages.values()) if (!newest || m.seq > newest.seq) newest = m;
    if (!newest) return false;
    this.loadingNewer = true;
    try {
      // No `after=` in the API: a page around the newest message held gives
      // up to half a page before it (held already) and the rest after it.
      const page = await api('GET', `conversations/${this.id}/messages?limit=100&around=${newest.message_id}`);
      for (const m of page.messages) {
        this.add(m);
        this.learnCursors(m, me);
      }
      this.hasNewer = page.has_newer;
      return true;
    } finally {
      this.loadingNewer = false;
    }
  }

  /** Drops the messages held and loads the newest page again (back from a window). */
  async reload(me) {
    this.messages.clear();
    this.byId.clear();
    // Live messages are held again from now on; the page joins them.
    this.hasNewer = false;
    await this.load(me);
  }

  /** Loads the group's members and what they have read of the newest own message. */
  async loadMembers(me) {
    const group = await api('GET', `groups/${this.id}`);
    this.members = group.members;
    this.summary.posting = group.posting;
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
  /**
   * `names(userId)` gives a display name and `usernameOf(userId)` a
   * username (or null while unknown); `isBot(userId)` whether a user is
   * a bot account (false while unknown); `onNearTop()` asks for older history;
   * `onNearBottom()` asks for newer messages (while the thread is a
   * window); `reach(messageId)` loads a page around a message not held
   * (resolving to true when it is held then); `role()` is the user's role
   * in the open conversation; `act(kind, message, arg)` runs an action
   * (`reply`, `react` with an emoji, `edit` with the new text, `delete`,
   * `report`); `notify(text)` shows a short notice.
   */
  constructor({ names, usernameOf, isBot, onNearTop, onNearBottom, reach, role, act, notify }) {
    this.names = names;
    this.isBot = isBot;
    this.reach = reach;
    this.usernameOf = usernameOf;
    this.role = role;
    this.act = act;
    this.notify = notify;
    this.thread = null;
    this.me = null;
    /** Key (`seq:N`) of the message the "New messages" divider goes before. */
    this.firstUnread = null;
    /** The message (id) whose actions are open (a tap on "⋯" or a long press). */
    this.actionsFor = null;
    /** The message (id) whose emoji picker is open. */
    this.pickerFor = null;
    /** The message (id) being edited, and its editor (kept across renders). */
    this.editing = null;
    this.editor = null;
    this.list = $('#message-list');
    this.scroller = $('#messages');
    this.nodes = new Map();
    this.scroller.addEventListener('scroll', () => {
      if (this.thread && this.scroller.scrollTop < 120) onNearTop();
      if (this.thread?.hasNewer && this.nearBottom(120)) onNearBottom();
    });
    this.list.addEventListener('click', (event) => this.onClick(event));
    // A long press opens a message's actions on touch screens.
    let press = null;
    this.list.addEventListener('pointerdown', (event) => {
      const li = event.target.closest('.message[data-message-id]');
      if (event.pointerType !== 'touch' || !li || event.target.closest('button, textarea')) return;
      press = setTimeout(() => this.openActions(li.dataset.messageId), 500);
    });
    for (const type of ['pointerup', 'pointercancel', 'pointermove']) {
      this.list.addEventListener(type, () => clearTimeout(press));
    }
    // A click elsewhere, or Escape, closes open actions and the picker.
    // (The path, not the target: a click that re-rendered its message has a detached target.)
    document.addEventListener('click', (event) => {
      const inMessage = event.composedPath().some((n) => n.classList?.contains('message'));
      if ((this.actionsFor || this.pickerFor) && !inMessage) this.closeMenus();
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && (this.actionsFor || this.pickerFor)) this.closeMenus();
    });
  }

  /**
   * Shows `thread` (already loaded). `firstUnread`: the seq of the first
   * message that was unread on opening; the divider goes before it, and the
   * view opens there instead of at the newest message. It stays until the
   * conversation is shown again.
   */
  show(thread, me, { firstUnread = null, focus = null } = {}) {
    this.thread = thread;
    this.me = me;
    this.firstUnread = firstUnread ? 'seq:' + firstUnread : null;
    this.actionsFor = null;
    this.pickerFor = null;
    this.editing = null;
    this.editor = null;
    this.nodes.clear();
    this.list.replaceChildren();
    if (focus) {
      this.render();
      this.jumpTo(focus, { smooth: false });
      return;
    }
    this.render(this.firstUnread ? { reveal: true } : { stick: true });
  }

  isShowing(conversationId) {
    return this.thread !== null && this.thread.id === conversationId;
  }

  /** Distance from the bottom, to keep the view still while older pages load. */
  nearBottom(within = 80) {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < within;
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
    // A window on older messages does not follow: newer ones load below it.
    const follow = stick || (this.nearBottom() && !thread.hasNewer);
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
    $('#newer-state').hidden = !thread.hasNewer;
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

  /** The user's role allows deleting others' messages (owner or admin of a group). */
  get moderates() {
    const role = this.role();
    return this.thread.isGroup && (role === 'owner' || role === 'admin');
  }

  messageNode(m, isLastOwn) {
    const key = 'seq:' + m.seq;
    let node = this.nodes.get(key);
    const mine = m.sender_id === this.me;
    if (!node) {
      node = el('li', { class: mine ? 'message mine' : 'message theirs', dataset: { seq: m.seq, messageId: m.message_id } });
      this.nodes.set(key, node);
    }
    const v = this.thread.effective(m);
    const deleted = Boolean(v.deleted_at);
    const editing = !deleted && this.editing === m.message_id;
    if (this.editing === m.message_id && deleted) this.stopEditing();
    // Mentions the server resolved, by username (those known so far).
    const names = new Map();
    for (const id of v.mentions || []) {
      const username = this.usernameOf(id);
      if (username) names.set(username.toLowerCase(), id);
    }
    const ctx = {
      mine,
      me: this.me,
      isGroup: this.thread.isGroup,
      senderName: this.names(m.sender_id),
      senderIsBot: this.isBot(m.sender_id),
      quoteName: v.reply ? this.names(v.reply.sender_id) : '',
      names,
      canEdit: mine,
      canDelete: mine || this.moderates,
      // Others' messages go to the server's operators; one's own never.
      canReport: !mine,
      actionsOpen: this.actionsFor === m.message_id,
      pickerOpen: this.pickerFor === m.message_id,
      editor: editing ? this.editor : null,
      files: null,
    };
    // Rebuilt only when something it shows changed.
    const signature = JSON.stringify([
      v.content, v.edited_at, v.deleted_at, v.reply, v.reactions, v.attachments, [...names], ctx.senderName, ctx.quoteName,
      ctx.canDelete, ctx.actionsOpen, ctx.pickerOpen, editing,
    ]);
    if (node.signature !== signature) {
      node.signature = signature;
      if (!deleted && v.attachments?.length) ctx.files = filesNode(v.attachments);
      const receipt = $('.receipt', node);
      node.replaceChildren(...messageBody(v, ctx), ...(receipt ? [receipt] : []));
      node.classList.toggle('deleted', deleted);
      node.classList.toggle('mentions-me', !deleted && (v.mentions || []).includes(this.me));
      node.classList.toggle('editing', editing);
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
          { class: 'line' },
          el(
            'div',
            { class: 'bubble' },
            p.reply ? quoteNode(p.reply, this.names(p.reply.sender_id)) : null,
            p.attachments?.length ? filesNode(p.attachments) : null,
            p.content || !p.attachments?.length ? el('p', { class: 'content', text: p.content }) : null,
            el('span', { class: 'meta' }, el('span', { class: 'mark', role: 'img' })),
          ),
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

  /** Clicks in the message list: actions, picker, chips, quotes, the editor's buttons. */
  onClick(event) {
    const button = event.target.closest('[data-action]');
    const li = event.target.closest('.message[data-message-id]');
    if (!button) return;
    const kind = button.dataset.action;
    if (kind === 'quote') {
      this.jumpTo(button.dataset.target);
      return;
    }
    // Files, in stored and pending messages alike.
    if (kind === 'open-attachment') {
      openImage(button.dataset.attachmentId, this.notify);
      return;
    }
    if (kind === 'download-attachment') {
      download(button.dataset.attachmentId, this.notify);
      return;
    }
    if (!li || !this.thread) return;
    const m = this.thread.byId.get(li.dataset.messageId);
    if (!m) return;
    switch (kind) {
      case 'more':
        this.actionsFor = this.actionsFor === m.message_id ? null : m.message_id;
        this.pickerFor = null;
        this.render();
        break;
      case 'react':
        this.pickerFor = this.pickerFor === m.message_id ? null : m.message_id;
        this.render();
        $('.picker .pick', li)?.focus();
        break;
      case 'pick':
      case 'chip':
        this.closeMenus();
        this.act('react', m, button.dataset.emoji);
        break;
      case 'reply':
        this.closeMenus();
        this.act('reply', m);
        break;
      case 'edit':
        this.startEditing(m);
        break;
      case 'delete':
        this.closeMenus();
        this.act('delete', m);
        break;
      case 'report':
        this.closeMenus();
        this.act('report', m);
        break;
      case 'edit-cancel':
        this.stopEditing();
        this.render();
        break;
    }
  }

  openActions(messageId) {
    this.actionsFor = messageId;
    this.pickerFor = null;
    this.render();
  }

  closeMenus() {
    if (!this.actionsFor && !this.pickerFor) return;
    this.actionsFor = null;
    this.pickerFor = null;
    this.render();
  }

  /** Opens the inline editor on own message `m`. */
  startEditing(m) {
    const v = this.thread.effective(m);
    if (v.deleted_at || m.sender_id !== this.me) return;
    this.actionsFor = null;
    this.pickerFor = null;
    this.editing = m.message_id;
    this.editor = editorNode(v.content);
    const input = $('textarea', this.editor);
    const save = () => {
      const content = input.value;
      const id = this.editing;
      this.stopEditing();
      const current = this.thread.byId.get(id);
      if (current && content !== this.thread.effective(current).content) this.act('edit', current, content);
      this.render();
    };
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        this.stopEditing();
        this.render();
        $('#message-input').focus();
      }
    });
    this.editor.addEventListener('submit', (event) => {
      event.preventDefault();
      save();
    });
    this.render();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  stopEditing() {
    this.editing = null;
    this.editor = null;
  }

  /**
   * Scrolls to a message and highlights it for a moment. A message not
   * held is loaded first, with a page around it (a quote further back, a
   * search result).
   */
  async jumpTo(messageId, { smooth = true } = {}) {
    const find = () => [...this.list.children].find((li) => li.dataset.messageId === messageId);
    let node = find();
    if (!node) {
      const thread = this.thread;
      let held = false;
      try {
        held = await this.reach(messageId);
      } catch (err) {
        this.notify(`That message could not be loaded: ${err.message}`);
        return;
      }
      if (this.thread !== thread) return;
      this.render();
      node = find();
      if (!held || !node) {
        this.notify('That message is no longer there.');
        return;
      }
      smooth = false;
    }
    node.scrollIntoView({ block: 'center', behavior: smooth ? 'smooth' : 'instant' });
    node.classList.remove('highlight');
    // Restart the animation when the same quote is clicked twice.
    void node.offsetWidth;
    node.classList.add('highlight');
    clearTimeout(node.highlightTimer);
    node.highlightTimer = setTimeout(() => node.classList.remove('highlight'), 2_000);
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
