// The chat page: the conversation list, live events from the socket, and
// the glue between the list, the open conversation and the composer.

import { api, keepFresh, logout, session } from './api.js';
import { showUnread } from './badge.js';
import { ConversationView, Thread } from './conversation.js';
import { $, debounce, el, initials, shortTime } from './dom.js';
import { MembersPanel, groupDialog, userSearch } from './groups.js';
import { settingsView } from './settings.js';
import { ChatSocket, newClientMsgId } from './socket.js';

if (!session.get()) location.replace(new URL('index.html', document.baseURI));

const state = {
  me: null,
  /** conversation_id → summary (as GET /conversations gives it) */
  conversations: new Map(),
  /** conversation_id → Thread, for conversations opened in this page */
  threads: new Map(),
  /** user_id → {username, display_name} */
  users: new Map(),
  /** user_id → {online, last_seen} */
  presence: new Map(),
  openId: null,
};
const me = () => state.me?.user_id;

// ---------------------------------------------------------------- names

const lookups = new Map();
/** A user's display name; unknown users are fetched once, then re-rendered. */
function nameOf(userId) {
  const user = state.users.get(userId);
  if (user) return user.display_name || user.username;
  if (!lookups.has(userId)) {
    lookups.set(
      userId,
      api('GET', `users/${userId}`)
        .then((u) => {
          state.users.set(userId, u);
          view.render();
          renderList();
        })
        .catch(() => {}),
    );
  }
  return '…';
}

function remember(users) {
  for (const u of users) if (u) state.users.set(u.user_id, u);
}

function titleOf(summary) {
  if (summary.kind === 'group') return summary.name;
  return summary.peer ? summary.peer.display_name || summary.peer.username : 'Unknown';
}

// ---------------------------------------------------------------- list

const listEl = $('#conversations');
let listQueued = false;
function renderList() {
  if (listQueued) return;
  listQueued = true;
  requestAnimationFrame(() => {
    listQueued = false;
    const items = [...state.conversations.values()].sort((a, b) =>
      (b.last_activity_at || b.created_at).localeCompare(a.last_activity_at || a.created_at),
    );
    $('#no-conversations').hidden = items.length > 0;
    listEl.replaceChildren(...items.map(listItem));
    showUnread(items.reduce((total, c) => total + (c.unread_count || 0), 0));
  });
}

function listItem(c) {
  const title = titleOf(c);
  const online = c.peer && state.presence.get(c.peer.user_id)?.online;
  const last = c.last_message;
  const preview = last
    ? (c.kind === 'group' && last.sender_id !== me() ? nameOf(last.sender_id) + ': ' : last.sender_id === me() ? 'You: ' : '') +
      last.content
    : c.kind === 'group'
      ? 'Group created'
      : 'No messages yet';
  return el(
    'li',
    {},
    el(
      'button',
      {
        type: 'button',
        class: 'conversation-item' + (c.unread_count ? ' unread' : ''),
        dataset: { conversationId: c.conversation_id, kind: c.kind },
        'aria-current': c.conversation_id === state.openId ? 'true' : false,
        onclick: () => openConversation(c.conversation_id),
      },
      el(
        'span',
        { class: 'avatar ' + c.kind, 'aria-hidden': 'true', text: initials(title) },
        c.kind === 'direct' ? el('span', { class: 'dot' + (online ? ' online' : ''), title: online ? 'Online' : 'Offline' }) : null,
      ),
      el('span', { class: 'item-main' }, el('span', { class: 'item-title', text: title }), el('span', { class: 'item-preview', text: preview })),
      el(
        'span',
        { class: 'item-side' },
        el('time', { text: shortTime(last?.created_at || c.created_at) }),
        c.unread_count
          ? el('span', { class: 'badge', 'aria-label': `${c.unread_count} unread`, text: String(c.unread_count) })
          : null,
      ),
    ),
  );
}

async function loadConversations() {
  const { conversations } = await api('GET', 'conversations');
  for (const c of conversations) {
    // A live message may have overtaken the answer: keep what is newer.
    const held = state.conversations.get(c.conversation_id);
    if (held && held.last_seq > c.last_seq) {
      const { last_seq, last_message, last_activity_at, unread_count, read_seq } = held;
      Object.assign(c, { last_seq, last_message, last_activity_at, unread_count, read_seq });
    }
  }
  state.conversations = new Map(conversations.map((c) => [c.conversation_id, c]));
  for (const c of conversations) {
    remember([c.peer]);
    const thread = state.threads.get(c.conversation_id);
    if (thread) thread.summary = c;
  }
  await learnSenders(conversations);
  renderList();
  for (const c of conversations) watchPeer(c);
}

/**
 * A group's preview names its last sender ("Bob: hi"), who may be someone
 * this page knows from no direct conversation: the group's member list
 * names them all, in one request per group, before the list is drawn.
 */
async function learnSenders(conversations) {
  const unknown = conversations.filter(
    (c) => c.kind === 'group' && c.last_message && !state.users.has(c.last_message.sender_id),
  );
  await Promise.all(
    unknown.map((c) =>
      api('GET', `groups/${c.conversation_id}`)
        .then((group) => remember(group.members))
        .catch(() => {}),
    ),
  );
}

/** Learns whether a direct peer is online; `presence` frames keep it current. */
function watchPeer(summary) {
  const peer = summary.peer;
  if (!peer || state.presence.has(peer.user_id)) return;
  state.presence.set(peer.user_id, { online: false, last_seen: null });
  api('GET', `users/${peer.user_id}`)
    .then((u) => {
      state.presence.set(u.user_id, { online: u.online, last_seen: u.last_seen });
      renderList();
      renderHeader();
    })
    .catch(() => state.presence.delete(peer.user_id));
}

/** Adds a summary this page had not seen. */
function addSummary(summary) {
  remember([summary.peer]);
  state.conversations.set(summary.conversation_id, summary);
  watchPeer(summary);
  renderList();
}

/** The summary of `id`, fetched when this page has not seen it yet. */
async function summaryOf(id) {
  let summary = state.conversations.get(id);
  if (!summary) {
    summary = await api('GET', `conversations/${id}`);
    addSummary(summary);
  }
  return summary;
}

// ---------------------------------------------------------------- open conversation

const view = new ConversationView({ names: nameOf, onNearTop: () => loadOlder() });
const members = new MembersPanel({
  me,
  changed: (thread) => {
    remember(thread.members);
    members.render();
    view.render();
    renderHeader();
  },
  left: (id) => {
    state.conversations.delete(id);
    state.threads.delete(id);
    closeConversation();
    renderList();
  },
});

function thread(id) {
  let t = state.threads.get(id);
  if (!t) {
    t = new Thread(state.conversations.get(id));
    state.threads.set(id, t);
  }
  return t;
}

async function openConversation(id) {
  const summary = await summaryOf(id);
  state.openId = id;
  history.replaceState(null, '', '#c=' + id);
  $('#app').dataset.view = 'pane';
  $('#placeholder').hidden = true;
  $('#settings').hidden = true;
  $('#conversation').hidden = false;
  $('#composer-error').textContent = '';
  if (members.isOpen) members.close();
  const t = thread(id);
  t.summary = summary;
  // Where unread starts, taken before opening marks everything read.
  const readSeq = summary.unread_count ? summary.read_seq || 0 : null;
  renderHeader();
  renderList();
  if (!t.loaded) {
    $('#history-state').textContent = 'Loading…';
    $('#message-list').replaceChildren();
    try {
      await t.load(me());
      if (t.members) remember(t.members);
      renderHeader();
    } catch (err) {
      $('#history-state').textContent = err.message;
      return;
    }
    if (state.openId !== id) return;
  }
  if (readSeq !== null) {
    await reachUnread(t, readSeq);
    if (state.openId !== id) return;
  }
  view.show(t, me(), { firstUnread: readSeq === null ? null : t.firstUnreadAfter(readSeq, me()) });
  readNow(t);
  $('#message-input').focus();
}

/**
 * Loads older pages until the first message after `readSeq` is held, so
 * the "New messages" divider can open where unread starts (67 unread are
 * more than the first page). At most 10 pages; past that the divider goes
 * above the oldest message loaded.
 */
async function reachUnread(t, readSeq) {
  try {
    for (let page = 0; page < 10 && t.hasMore && (t.oldest?.seq ?? 0) > readSeq + 1; page++) {
      if (!(await t.loadOlder(me()))) break;
    }
  } catch {
    // Shown from what is held; scrolling up loads the rest.
  }
}

function closeConversation() {
  state.openId = null;
  history.replaceState(null, '', location.pathname);
  view.thread = null;
  $('#conversation').hidden = true;
  $('#settings').hidden = true;
  $('#placeholder').hidden = false;
  $('#app').dataset.view = 'list';
  renderList();
}

function renderHeader() {
  const summary = state.conversations.get(state.openId);
  if (!summary) return;
  $('#conversation-title').textContent = titleOf(summary);
  const showMembers = $('#show-members');
  showMembers.hidden = summary.kind !== 'group';
  let subtitle = '';
  if (summary.kind === 'group') {
    const t = state.threads.get(summary.conversation_id);
    subtitle = t?.members ? `${t.members.length} members` : '';
  } else if (summary.peer) {
    const p = state.presence.get(summary.peer.user_id);
    subtitle = p?.online ? 'online' : p?.last_seen ? `last seen ${shortTime(p.last_seen)}` : '';
  }
  $('#conversation-subtitle').textContent = subtitle;
}

async function loadOlder() {
  const t = view.thread;
  if (!t || !t.hasMore || t.loadingOlder) return;
  try {
    if (await t.loadOlder(me())) view.render({ keep: true });
  } catch (err) {
    $('#history-state').textContent = err.message;
  }
}

/** Moves the read cursor to the newest message of the open, visible conversation. */
function readNow(t) {
  if (state.openId !== t.id || document.visibilityState !== 'visible') return;
  const summary = t.summary;
  let newest = null;
  for (const m of t.messages.values()) if (!newest || m.seq > newest.seq) newest = m;
  if (!newest || (summary.read_seq >= newest.seq && !summary.unread_count)) return;
  summary.read_seq = newest.seq;
  summary.unread_count = 0;
  renderList();
  if (!socket.send({ type: 'message.read', message_id: newest.message_id })) {
    api('POST', `conversations/${t.id}/read`, { message_id: newest.message_id }).catch(() => {});
  }
}

/** `readNow`, once for a burst of incoming messages. */
const markRead = debounce(readNow, 150);

document.addEventListener('visibilitychange', () => {
  const t = state.threads.get(state.openId);
  if (t) markRead(t);
});

// ---------------------------------------------------------------- composer and typing

const input = $('#message-input');
let typingSentAt = 0;
const stopTyping = debounce(() => sendTyping(false), 4_000);

function typingTarget(summary) {
  return summary.kind === 'group' ? { group_id: summary.conversation_id } : { recipient_id: summary.peer.user_id };
}

function sendTyping(isTyping) {
  const summary = state.conversations.get(state.openId);
  if (!summary) return;
  if (!isTyping && typingSentAt === 0) return;
  typingSentAt = isTyping ? Date.now() : 0;
  socket.send({ type: 'typing', ...typingTarget(summary), is_typing: isTyping });
}

input.addEventListener('input', () => {
  if (input.value.trim() && Date.now() - typingSentAt > 3_000) sendTyping(true);
  stopTyping();
});

input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('#composer').requestSubmit();
  }
});

$('#composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const content = input.value;
  const summary = state.conversations.get(state.openId);
  if (!summary || !content.trim()) return;
  const frame =
    summary.kind === 'group'
      ? { type: 'message.group.send', group_id: summary.conversation_id, content, client_msg_id: newClientMsgId() }
      : { type: 'message.send', recipient_id: summary.peer.user_id, content, client_msg_id: newClientMsgId() };
  const t = thread(summary.conversation_id);
  t.pending.set(frame.client_msg_id, { content });
  input.value = '';
  sendTyping(false);
  socket.sendMessage(frame);
  view.render({ stick: true });
});

/** The conversation an outbox frame belongs to. */
function conversationOfFrame(frame) {
  if (frame.group_id) return frame.group_id;
  for (const c of state.conversations.values()) if (c.peer?.user_id === frame.recipient_id) return c.conversation_id;
  return null;
}

// ---------------------------------------------------------------- live events

const acks = new Set();
const flushAcks = debounce(() => {
  const ids = [...acks];
  for (let i = 0; i < ids.length; i += 100) {
    if (socket.send({ type: 'messages.ack', message_ids: ids.slice(i, i + 100) })) {
      for (const id of ids.slice(i, i + 100)) acks.delete(id);
    }
  }
}, 50);

/** A stored message reached this tab (live, offline batch or sync). */
async function receive(message, { live }) {
  const id = message.conversation_id;
  const known = state.conversations.has(id);
  let summary;
  try {
    summary = await summaryOf(id);
  } catch {
    return;
  }
  if (message.sender_id !== me()) {
    acks.add(message.message_id);
    flushAcks();
  }
  const t = state.threads.get(id);
  if (t && t.loaded) {
    if (live && t.hasGapBefore(message.seq)) requestSync(t);
    if (t.add(message) && view.isShowing(id)) view.render({ stick: message.sender_id === me() });
    if (message.sender_id !== me()) t.setTyping(message.sender_id, false, () => view.isShowing(id) && view.renderTyping());
  }
  if (message.seq > (summary.last_seq || 0)) {
    summary.last_seq = message.seq;
    summary.last_message = message;
    summary.last_activity_at = message.created_at;
    // A summary fetched just now already counts this message.
    if (known && message.sender_id !== me() && message.seq > (summary.read_seq || 0)) summary.unread_count += 1;
    if (message.sender_id === me()) {
      summary.read_seq = Math.max(summary.read_seq || 0, message.seq);
    }
  }
  renderList();
  if (t && state.openId === id) markRead(t);
}

function requestSync(t) {
  if (t.syncing) return;
  t.syncing = true;
  if (!socket.send({ type: 'sync', conversation_id: t.id, after_seq: t.maxSeq })) t.syncing = false;
}

function onSent(frame) {
  const t = state.threads.get(frame.conversation_id);
  const pending = t?.pending.get(frame.client_msg_id) || sentContent.get(frame.client_msg_id);
  sentContent.delete(frame.client_msg_id);
  const message = {
    message_id: frame.message_id,
    conversation_id: frame.conversation_id,
    seq: frame.seq,
    sender_id: me(),
    content: pending ? pending.content : '',
    created_at: frame.created_at,
    client_msg_id: frame.client_msg_id,
  };
  if (t) t.pending.delete(frame.client_msg_id);
  if (t && view.isShowing(t.id)) view.render({ stick: true });
  receive(message, { live: true });
}

function onSendFailed(clientMsgId, error) {
  for (const t of state.threads.values()) {
    const p = t.pending.get(clientMsgId);
    if (p) {
      p.failed = error.code === 'CONVERSATION_NOT_FOUND' ? 'you are not a member of this conversation' : error.message;
      if (view.isShowing(t.id)) view.render();
    }
  }
}

const handlers = {
  'message.new': (f) => receive(f, { live: true }),
  'message.group.new': (f) => receive(f, { live: true }),
  'message.sent': onSent,
  'messages.offline': async (f) => {
    for (const m of f.messages) await receive(m, { live: false });
  },
  'messages.sync': async (f) => {
    const t = state.threads.get(f.conversation_id);
    if (t) t.syncing = false;
    for (const m of f.messages) await receive(m, { live: false });
    if (t && f.has_more && f.messages.length) requestSync(t);
  },
  'message.delivered': (f) => cursorMoved('delivered', f),
  'message.read': (f) => {
    if (f.user_id === me()) {
      // Read on another device of mine.
      const summary = state.conversations.get(f.conversation_id);
      if (summary && f.seq >= summary.last_seq) summary.unread_count = 0;
      if (summary) summary.read_seq = Math.max(summary.read_seq, f.seq);
      renderList();
      return;
    }
    cursorMoved('read', f);
  },
  typing: (f) => {
    const t = state.threads.get(f.conversation_id);
    if (t) t.setTyping(f.user_id, f.is_typing, () => view.isShowing(t.id) && view.renderTyping());
  },
  presence: (f) => {
    state.presence.set(f.user_id, { online: f.online, last_seen: f.last_seen });
    renderList();
    renderHeader();
  },
  error: (f) => {
    if (!f.client_msg_id) console.warn('server error frame', f.code, f.message);
  },
};

function cursorMoved(kind, f) {
  const t = state.threads.get(f.conversation_id);
  if (!t) return;
  t.cursor(kind, f.user_id, f.seq);
  if (view.isShowing(t.id)) view.render();
}

const connection = $('#connection');
const STATES = { connecting: 'Connecting…', open: 'Connected', offline: 'Offline: messages will be sent when you are back online' };
let everConnected = false;

const socket = new ChatSocket({
  onFrame: (frame) => handlers[frame.type]?.(frame),
  onState: (s) => {
    connection.dataset.state = s;
    connection.textContent = STATES[s];
    // Like other messengers, the bar only speaks up when something is wrong.
    connection.hidden = s === 'open';
  },
  onOpen: () => {
    const reconnect = everConnected;
    everConnected = true;
    flushAcks();
    if (!reconnect) return;
    // Another device may have acknowledged what this one missed: fill every
    // loaded conversation from its newest message, and refresh the list.
    for (const t of state.threads.values()) if (t.loaded) requestSync(t);
    loadConversations().catch(() => {});
  },
  onSendFailed,
});

/** Contents of outbox frames whose conversation this page has not opened. */
const sentContent = new Map();

// ---------------------------------------------------------------- start

userSearch($('#user-search'), $('#search-results'), {
  me,
  label: 'Message',
  pick: async (u) => {
    $('#user-search').value = '';
    $('#search-results').hidden = true;
    const summary = await api('POST', `conversations/direct/${encodeURIComponent(u.username)}`);
    addSummary(summary);
    openConversation(summary.conversation_id);
  },
});
groupDialog({ me, created: (id) => openConversation(id) });

$('#show-members').addEventListener('click', () => {
  const t = state.threads.get(state.openId);
  if (t) members.isOpen ? members.close() : members.open(t);
});
$('#back').addEventListener('click', closeConversation);

const settings = settingsView({
  profile: () => state.me,
  updated: (profile) => {
    state.me = { ...state.me, ...profile };
    remember([state.me]);
    showMe();
    renderList();
    view.render();
  },
});
$('#open-settings').addEventListener('click', () => {
  closeConversation();
  $('#placeholder').hidden = true;
  $('#settings').hidden = false;
  $('#app').dataset.view = 'pane';
  settings.open();
});
$('#close-settings').addEventListener('click', closeConversation);

/** The signed-in user in the sidebar's header. */
function showMe() {
  $('#me-name').textContent = state.me.display_name || state.me.username;
  $('#me-avatar').textContent = initials(state.me.display_name || state.me.username);
}
$('#logout').addEventListener('click', () => {
  socket.stop();
  logout();
});

async function start() {
  state.me = await api('GET', 'auth/me');
  remember([state.me]);
  showMe();
  await loadConversations();
  // Sends typed before a reload are still in the outbox: show them again.
  for (const frame of socket.pending()) {
    const id = conversationOfFrame(frame);
    sentContent.set(frame.client_msg_id, { content: frame.content });
    if (id && state.conversations.has(id)) thread(id).pending.set(frame.client_msg_id, { content: frame.content });
  }
  keepFresh();
  socket.connect();
  // Being added to a group sends no event until its first message; a
  // periodic look at the list (and one on coming back to the tab) shows it.
  setInterval(() => document.visibilityState === 'visible' && loadConversations().catch(() => {}), 30_000);
  window.addEventListener('focus', () => loadConversations().catch(() => {}));
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('c');
  if (fromHash && state.conversations.has(fromHash)) openConversation(fromHash);
}

start().catch((err) => {
  connection.dataset.state = 'offline';
  connection.textContent = err.message;
  connection.hidden = false;
});
