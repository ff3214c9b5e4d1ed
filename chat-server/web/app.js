// The chat page: the conversation list, live events from the socket, and
// the glue between the list, the open conversation and the composer:
// replies, reactions, edits and deletions asked for over the socket (REST
// when it is down) and applied wherever the server reports them; search
// results opened at their message; mute, block and report; the settings
// and admin views; notifications of messages the user is not looking at.

import { adminView } from './admin.js';
import { api, apiWithStatus, keepFresh, logout, session } from './api.js';
import { Drafts, forgetFiles, lightbox, settleUploads, textOrFiles, uploadsOf } from './attachments.js';
import { mentionAutocomplete } from './autocomplete.js';
import { showUnread } from './badge.js';
import { Blocks } from './blocks.js';
import { ConversationView, Thread } from './conversation.js';
import { confirmAction, reportReason } from './dialogs.js';
import { $, debounce, el, initials, sentence, shortTime } from './dom.js';
import { gateOf, showGate } from './gate.js';
import { excerpt, icon } from './message.js';
import { MembersPanel, groupDialog, userSearch } from './groups.js';
import { notifications } from './notifications.js';
import { messageSearch } from './search.js';
import { settingsView } from './settings.js';
import { ChatSocket, newClientMsgId } from './socket.js';

if (!session.get()) location.replace(new URL('index.html', document.baseURI));

const state = {
  me: null,
  /** conversation_id → summary (as GET /conversations gives it) */
  conversations: new Map(),
  /** conversation_id → Thread, for conversations opened in this page */
  threads: new Map(),
  /** user_id → {username, display_name, is_bot} */
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
          search.refresh();
        })
        .catch(() => {}),
    );
  }
  return '…';
}

/** A user's username, or null while it is being looked up (the view is redrawn then). */
function usernameOf(userId) {
  const user = state.users.get(userId);
  if (user) return user.username;
  nameOf(userId);
  return null;
}

/** A user's display name, once the page has looked them up when it had not met them. */
async function nameOfSoon(userId) {
  nameOf(userId);
  await lookups.get(userId);
  return nameOf(userId);
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
    // Muted conversations keep their count in the list, not in the tab.
    showUnread(items.reduce((total, c) => total + (c.muted ? 0 : c.unread_count || 0), 0));
  });
}

function listItem(c) {
  const title = titleOf(c);
  const online = c.peer && state.presence.get(c.peer.user_id)?.online;
  const last = c.last_message;
  const mine = last?.sender_id === me();
  const preview = !last
    ? c.kind === 'group'
      ? 'Group created'
      : 'No messages yet'
    : last.deleted_at
      ? mine
        ? 'You deleted this message'
        : (c.kind === 'group' ? nameOf(last.sender_id) + ': ' : '') + 'This message was deleted'
      : (c.kind === 'group' && !mine ? nameOf(last.sender_id) + ': ' : mine ? 'You: ' : '') + textOrFiles(last);
  const mentions = c.mention_count || 0;
  return el(
    'li',
    {},
    el(
      'button',
      {
        type: 'button',
        class: 'conversation-item' + (c.unread_count ? ' unread' : '') + (c.muted ? ' muted' : ''),
        dataset: { conversationId: c.conversation_id, kind: c.kind },
        'aria-current': c.conversation_id === state.openId ? 'true' : false,
        onclick: () => openConversation(c.conversation_id),
      },
      el(
        'span',
        { class: 'avatar ' + c.kind, 'aria-hidden': 'true', text: initials(title) },
        c.kind === 'direct' ? el('span', { class: 'dot' + (online ? ' online' : ''), title: online ? 'Online' : 'Offline' }) : null,
      ),
      el(
        'span',
        { class: 'item-main' },
        el(
          'span',
          { class: 'item-title-line' },
          el('span', { class: 'item-title', text: title }),
          c.muted ? el('span', { class: 'muted-icon', role: 'img', title: 'Muted', 'aria-label': 'Muted' }, icon('muted')) : null,
        ),
        el('span', { class: 'item-preview' + (last?.deleted_at ? ' deleted' : ''), text: preview }),
      ),
      el(
        'span',
        { class: 'item-side' },
        el('time', { text: shortTime(last?.created_at || c.created_at) }),
        el(
          'span',
          { class: 'badges' },
          mentions
            ? el('span', {
                class: 'mention-badge',
                title: mentions === 1 ? 'You were mentioned' : `You were mentioned ${mentions} times`,
                'aria-label': mentions === 1 ? '1 mention' : `${mentions} mentions`,
                text: '@' + (mentions > 1 ? mentions : ''),
              })
            : null,
          c.unread_count
            ? el('span', { class: 'badge', 'aria-label': `${c.unread_count} unread`, text: String(c.unread_count) })
            : null,
        ),
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
      const { last_seq, last_message, last_activity_at, unread_count, read_seq, mention_count } = held;
      Object.assign(c, { last_seq, last_message, last_activity_at, unread_count, read_seq, mention_count });
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
  // Mute, posting policy and role may have changed elsewhere.
  renderHeader();
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

const refreshes = new Map();
/**
 * Fetches one summary again, soon (once for a burst): an edit or deletion
 * of a message this page does not hold may change its mention count.
 */
function refreshSummary(id) {
  clearTimeout(refreshes.get(id));
  refreshes.set(
    id,
    setTimeout(async () => {
      refreshes.delete(id);
      try {
        const fresh = await api('GET', `conversations/${id}`);
        const held = state.conversations.get(id);
        if (!held || fresh.last_seq < held.last_seq) return;
        Object.assign(held, { unread_count: fresh.unread_count, mention_count: fresh.mention_count, read_seq: fresh.read_seq });
        renderList();
      } catch {
        // The next list reload brings it.
      }
    }, 300),
  );
}

// ---------------------------------------------------------------- open conversation

const view = new ConversationView({
  names: nameOf,
  usernameOf,
  isBot: (userId) => Boolean(state.users.get(userId)?.is_bot),
  onNearTop: () => loadOlder(),
  onNearBottom: () => loadNewer(),
  reach: async (messageId) => {
    const t = view.thread;
    const held = await t.loadAround(messageId, me());
    if (view.thread === t) renderGate();
    return held;
  },
  role: () => myRole(view.thread),
  act: (kind, message, arg) => actions[kind](message, arg),
  notify: toast,
});

/** The user's role in a conversation: from the group's members when loaded, else the summary. */
function myRole(t) {
  if (!t) return null;
  return t.members?.find((m) => m.user_id === me())?.role || t.summary.role;
}
const members = new MembersPanel({
  me,
  changed: (thread) => {
    remember(thread.members);
    members.render();
    view.render();
    renderHeader();
    renderList();
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

/**
 * Opens a conversation: where unread starts, at the newest message, or,
 * with `at` (a message id, from a search result), scrolled to that message
 * and highlighted, loading a page around it when it is not held.
 */
async function openConversation(id, { at = null } = {}) {
  const summary = await summaryOf(id);
  state.openId = id;
  history.replaceState(null, '', '#c=' + id);
  $('#app').dataset.view = 'pane';
  $('#placeholder').hidden = true;
  $('#settings').hidden = true;
  $('#admin').hidden = true;
  $('#conversation').hidden = false;
  $('#composer-error').textContent = '';
  if (members.isOpen) members.close();
  const t = thread(id);
  t.summary = summary;
  showReplyBar(t);
  search.setOpen(id);
  // Where unread starts, taken before opening marks everything read.
  const readSeq = summary.unread_count && !at ? summary.read_seq || 0 : null;
  renderHeader();
  renderList();
  if (t.loaded && t.hasNewer && !at) {
    // Left on a window of older messages: back to the newest.
    try {
      await t.reload(me());
    } catch (err) {
      $('#history-state').textContent = err.message;
      return;
    }
    if (state.openId !== id) return;
  }
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
  if (at) {
    try {
      await t.loadAround(at, me());
    } catch (err) {
      toast(`That message could not be loaded: ${err.message}`);
    }
    if (state.openId !== id) return;
    view.show(t, me(), { focus: at });
    renderGate();
    readNow(t);
    return;
  }
  if (readSeq !== null) {
    await reachUnread(t, readSeq);
    if (state.openId !== id) return;
  }
  view.show(t, me(), { firstUnread: readSeq === null ? null : t.firstUnreadAfter(readSeq, me()) });
  renderGate();
  readNow(t);
  if (!input.disabled) input.focus();
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
  search.setOpen(null);
  history.replaceState(null, '', location.pathname);
  view.thread = null;
  $('#conversation').hidden = true;
  $('#settings').hidden = true;
  $('#admin').hidden = true;
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
  const blocked = summary.peer && blocks.has(summary.peer.user_id);
  let subtitle = '';
  if (summary.kind === 'group') {
    const t = state.threads.get(summary.conversation_id);
    subtitle = t?.members ? `${t.members.length} members` : '';
  } else if (blocked) {
    subtitle = 'blocked';
  } else if (summary.peer?.is_bot) {
    subtitle = 'bot';
  } else if (summary.peer) {
    const p = state.presence.get(summary.peer.user_id);
    subtitle = p?.online ? 'online' : p?.last_seen ? `last seen ${shortTime(p.last_seen)}` : '';
  }
  $('#conversation-subtitle').textContent = subtitle;
  const mute = $('#mute-toggle');
  mute.hidden = false;
  mute.textContent = summary.muted ? 'Unmute' : 'Mute';
  mute.setAttribute('aria-pressed', summary.muted ? 'true' : 'false');
  mute.title = summary.muted ? 'Muted: unread messages are counted here but not in the tab' : 'Leave this conversation out of the tab\'s unread count';
  const block = $('#block-toggle');
  block.hidden = summary.kind !== 'direct' || !summary.peer;
  block.textContent = blocked ? 'Unblock' : 'Block';
  renderGate();
}

/** The composer, or the notice that replaces it (a blocked peer, a group where only admins post). */
function renderGate() {
  const summary = state.conversations.get(state.openId);
  if (!summary) return;
  const gate = gateOf(summary, {
    blocked: (id) => blocks.has(id),
    role: myRole(state.threads.get(summary.conversation_id)) || summary.role,
    name: titleOf(summary),
  });
  showGate(gate);
  drafts.setVisible(!gate);
  if (!gate) showReplyBar(thread(summary.conversation_id));
}

$('#mute-toggle').addEventListener('click', async () => {
  const summary = state.conversations.get(state.openId);
  if (!summary) return;
  try {
    const fresh = await api(summary.muted ? 'DELETE' : 'PUT', `conversations/${summary.conversation_id}/mute`);
    summary.muted = fresh.muted;
    renderList();
    renderHeader();
  } catch (err) {
    toast(`The conversation was not ${summary.muted ? 'unmuted' : 'muted'}: ${err.message}`);
  }
});

/** Blocks the peer of `summary` (after asking), or lifts the block. */
async function toggleBlock(summary) {
  const peer = summary?.peer;
  if (!peer) return;
  const name = titleOf(summary);
  try {
    if (blocks.has(peer.user_id)) {
      await blocks.unblock(peer.user_id);
      toast(`You unblocked ${name}.`);
    } else if (
      await confirmAction({
        title: `Block ${name}?`,
        text: `${name} will not be able to send you direct messages, and you will not be able to send them any, until you unblock them. They are not told.`,
        action: 'Block',
      })
    ) {
      await blocks.block(peer);
    }
  } catch (err) {
    toast(err.message);
  }
}
$('#block-toggle').addEventListener('click', () => toggleBlock(state.conversations.get(state.openId)));
$('#composer-unblock').addEventListener('click', () => toggleBlock(state.conversations.get(state.openId)));

/** Loads newer messages while the open thread is a window on older ones (a search result). */
async function loadNewer() {
  const t = view.thread;
  if (!t || !t.hasNewer || t.loadingNewer) return;
  try {
    if (await t.loadNewer(me())) view.render();
    if (!t.hasNewer) markRead(t);
  } catch (err) {
    toast(err.message);
  }
}

$('#to-newest').addEventListener('click', async () => {
  const t = view.thread;
  if (!t) return;
  try {
    await t.reload(me());
  } catch (err) {
    toast(err.message);
    return;
  }
  if (view.thread === t) {
    view.render({ stick: true });
    readNow(t);
  }
});

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
  // A window on older messages is not read up to the newest.
  if (state.openId !== t.id || document.visibilityState !== 'visible' || t.hasNewer) return;
  const summary = t.summary;
  let newest = null;
  for (const m of t.messages.values()) if (!newest || m.seq > newest.seq) newest = m;
  if (!newest || (summary.read_seq >= newest.seq && !summary.unread_count && !summary.mention_count)) return;
  summary.read_seq = Math.max(summary.read_seq || 0, newest.seq);
  summary.unread_count = 0;
  summary.mention_count = 0;
  renderList();
  notify.read(t.id);
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

/** Who can be mentioned in `t`: the group's other members, or the peer. */
function mentionable(t) {
  if (!t) return [];
  if (t.isGroup) return (t.members || []).filter((m) => m.user_id !== me());
  return t.summary.peer ? [t.summary.peer] : [];
}
const suggestions = mentionAutocomplete(input, $('#mention-suggestions'), () => mentionable(view.thread));

input.addEventListener('keydown', (event) => {
  if (suggestions.key(event)) return;
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('#composer').requestSubmit();
  } else if (event.key === 'Escape' && view.thread?.replyingTo) {
    event.preventDefault();
    setReply(view.thread, null);
  } else if (event.key === 'ArrowUp' && !input.value && view.thread) {
    // As in Slack: Up in an empty composer edits one's last message.
    const own = [...view.thread.messages.values()]
      .filter((m) => m.sender_id === me() && !view.thread.effective(m).deleted_at)
      .sort((a, b) => b.seq - a.seq)[0];
    if (own) {
      event.preventDefault();
      view.startEditing(own);
    }
  }
});

/** The files chosen for the next message (attachments.js): added while a conversation is open and writable. */
const drafts = new Drafts({ enabled: () => Boolean(state.openId) && !input.disabled });
let waitingForUploads = false;

$('#composer').addEventListener('submit', async (event) => {
  event.preventDefault();
  let summary = state.conversations.get(state.openId);
  if (!summary || input.disabled) return;
  if (drafts.uploading) {
    // Sent once the files are uploaded (unless one fails, or another
    // conversation is opened meanwhile).
    if (waitingForUploads) return;
    waitingForUploads = true;
    drafts.say('The message will be sent when the files are uploaded…');
    const clean = await drafts.settled();
    waitingForUploads = false;
    drafts.say(clean ? '' : 'A file could not be uploaded: remove it, or press Send again to send without it.');
    if (!clean || state.openId !== summary.conversation_id || input.disabled) return;
    summary = state.conversations.get(state.openId);
    if (!summary) return;
  }
  const content = input.value;
  const files = drafts.ready;
  if (!content.trim() && !files.length) return;
  $('#composer-error').textContent = '';
  const frame =
    summary.kind === 'group'
      ? { type: 'message.group.send', group_id: summary.conversation_id, content, client_msg_id: newClientMsgId() }
      : { type: 'message.send', recipient_id: summary.peer.user_id, content, client_msg_id: newClientMsgId() };
  const t = thread(summary.conversation_id);
  const parent = t.replyingTo && t.byId.get(t.replyingTo);
  const pending = { content, attachments: files };
  if (files.length) frame.attachments = files.map((a) => a.attachment_id);
  if (parent) {
    frame.reply_to = parent.message_id;
    pending.reply = quoteOf(t, parent);
  }
  t.pending.set(frame.client_msg_id, pending);
  input.value = '';
  drafts.clear();
  suggestions.close();
  setReply(t, null);
  sendTyping(false);
  if (t.hasNewer) {
    // Writing from a window on older messages: back to the newest first,
    // so the message lands after what it follows.
    view.render();
    try {
      await t.reload(me());
    } catch {
      // Sent all the same; reopening shows the newest.
    }
  }
  socket.sendMessage(frame);
  if (view.isShowing(t.id)) view.render({ stick: true });
});

// ---------------------------------------------------------------- replying

/** The quote of `parent` as the server would give it in `reply`. */
function quoteOf(t, parent) {
  const v = t.effective(parent);
  return { message_id: parent.message_id, sender_id: parent.sender_id, excerpt: excerpt(v.content), deleted: Boolean(v.deleted_at) };
}

/** Makes the composer answer `message` (or nothing), and shows it above the composer. */
function setReply(t, message) {
  t.replyingTo = message ? message.message_id : null;
  if (view.isShowing(t.id)) showReplyBar(t);
}

function showReplyBar(t) {
  const parent = t.replyingTo && t.byId.get(t.replyingTo);
  $('#reply-bar').hidden = !parent;
  if (!parent) return;
  $('#reply-name').textContent = parent.sender_id === me() ? 'yourself' : nameOf(parent.sender_id);
  $('#reply-excerpt').textContent = excerpt(textOrFiles(t.effective(parent)));
}

$('#cancel-reply').addEventListener('click', () => {
  if (view.thread) setReply(view.thread, null);
  input.focus();
});

/** The conversation an outbox frame belongs to. */
function conversationOfFrame(frame) {
  if (frame.group_id) return frame.group_id;
  for (const c of state.conversations.values()) if (c.peer?.user_id === frame.recipient_id) return c.conversation_id;
  return null;
}

// ---------------------------------------------------------------- live events

/** conversation_id → the highest seq received (messages and changes alike), and → the highest acknowledged. */
const received = new Map();
const acknowledged = new Map();
/** Acknowledges each conversation up to the highest seq received, changes included. */
const flushAcks = debounce(() => {
  for (const [id, seq] of received) {
    if (seq <= (acknowledged.get(id) || 0)) continue;
    if (!socket.send({ type: 'messages.ack', conversation_id: id, seq })) return;
    acknowledged.set(id, seq);
  }
}, 50);

function noteReceived(conversationId, seq) {
  if (seq > (received.get(conversationId) || 0)) received.set(conversationId, seq);
  flushAcks();
}

/** 1 when `m` counts in the summary's `mention_count` (someone else's, unread, naming me). */
function mentionWeight(m, summary) {
  return m.sender_id !== me() && !m.deleted_at && m.seq > (summary.read_seq || 0) && (m.mentions || []).includes(me()) ? 1 : 0;
}

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
  noteReceived(id, message.seq);
  const t = state.threads.get(id);
  if (t && t.loaded && t.hasNewer) {
    // A window on older messages: this one comes with the newer pages.
    t.noteSeq(message.seq);
  } else if (t && t.loaded) {
    if (live && t.hasGapBefore(message.seq)) requestSync(t);
    if (t.add(message) && view.isShowing(id)) view.render({ stick: live && message.sender_id === me() });
    if (message.sender_id !== me()) t.setTyping(message.sender_id, false, () => view.isShowing(id) && view.renderTyping());
  }
  if (message.seq > (summary.last_seq || 0)) {
    summary.last_seq = message.seq;
    // A summary fetched just now already counts this message.
    if (known && message.sender_id !== me() && message.seq > (summary.read_seq || 0)) {
      summary.unread_count += 1;
      summary.mention_count = (summary.mention_count || 0) + mentionWeight(message, summary);
    }
    if (message.sender_id === me()) {
      summary.read_seq = Math.max(summary.read_seq || 0, message.seq);
    }
  }
  if (message.seq >= (summary.last_message?.seq || 0)) {
    summary.last_message = t?.messages.get(message.seq) || message;
    summary.last_activity_at = message.created_at;
  }
  renderList();
  if (t && state.openId === id) markRead(t);
  // Counted first, so the notification can say how many are new.
  if (live) notify.incoming(message, summary);
}

/**
 * A change (edit, deletion, reaction) reached this tab: live
 * (`message.changed`), in a batch's `changes`, or as the answer of a REST
 * call. It is a log entry like a message: its seq counts for gaps and acks.
 */
async function receiveChange(c, { live }) {
  const id = c.conversation_id;
  let summary;
  try {
    summary = await summaryOf(id);
  } catch {
    return;
  }
  noteReceived(id, c.seq);
  const t = state.threads.get(id);
  const held = t?.byId.get(c.message_id);
  const before = held ? mentionWeight(held, summary) : 0;
  if (t && t.loaded) {
    if (live && t.hasGapBefore(c.seq)) requestSync(t);
    if (t.applyChange(c, me()) && view.isShowing(id)) view.render();
    if (c.change === 'deleted' && t.replyingTo === c.message_id) {
      setReply(t, null);
      if (view.isShowing(id)) toast('The message you were replying to was deleted.');
    }
  }
  if (c.seq > (summary.last_seq || 0)) summary.last_seq = c.seq;
  const last = summary.last_message;
  if (last && last.message_id === c.message_id && last !== held) {
    if (c.change === 'deleted') Object.assign(last, { deleted_at: last.deleted_at || c.at, content: '', mentions: [], attachments: [] });
    else if (c.change === 'edited' && !last.deleted_at && c.content) Object.assign(last, { content: c.content, edited_at: c.edited_at });
  }
  if (c.change === 'edited' || c.change === 'deleted') {
    if (held) summary.mention_count = Math.max(0, (summary.mention_count || 0) + mentionWeight(held, summary) - before);
    else if (c.actor_id !== me() && summary.unread_count) refreshSummary(id);
  }
  renderList();
}

/** A batch's entries: its messages, then its changes in seq order. */
async function receiveBatch(messages, changes) {
  for (const m of messages) await receive(m, { live: false });
  for (const c of [...(changes || [])].sort((a, b) => a.seq - b.seq)) await receiveChange(c, { live: false });
}

function requestSync(t) {
  if (t.syncing) return;
  t.syncing = true;
  if (!socket.send({ type: 'sync', conversation_id: t.id, after_seq: t.logSeq })) t.syncing = false;
}

function onSent(frame) {
  const t = state.threads.get(frame.conversation_id);
  const pending = t?.pending.get(frame.client_msg_id) || sentContent.get(frame.client_msg_id);
  sentContent.delete(frame.client_msg_id);
  settleUploads(pending?.attachments?.map((a) => a.attachment_id));
  const message = {
    message_id: frame.message_id,
    conversation_id: frame.conversation_id,
    seq: frame.seq,
    sender_id: me(),
    // The server says the text when it stored another (a moderation
    // rewrite, or a resend whose first message is what counts).
    content: frame.content ?? (pending ? pending.content : ''),
    created_at: frame.created_at,
    client_msg_id: frame.client_msg_id,
    reply_to: pending?.reply_to || pending?.reply?.message_id || null,
    reply: pending?.reply || null,
    mentions: [],
    // The files it was sent with, as their uploads answered.
    attachments: pending?.attachments || [],
    edited_at: null,
    deleted_at: null,
    reactions: [],
  };
  if (t) t.pending.delete(frame.client_msg_id);
  if (t && view.isShowing(t.id)) view.render({ stick: true });
  receive(message, { live: true });
  // `message.sent` does not say whom the text mentions (the server resolves
  // that): the message itself, as `sync` gives it, does.
  if ((message.content.includes('@') || (message.reply_to && !message.reply)) && socket.isOpen) {
    socket.send({ type: 'sync', conversation_id: frame.conversation_id, after_seq: frame.seq - 1, limit: 1 });
  }
}

/** Refusals that concern the conversation rather than the message: said under the composer too. */
const REFUSALS = new Set(['RECIPIENT_UNAVAILABLE', 'USER_BLOCKED', 'POSTING_RESTRICTED']);

function onSendFailed(clientMsgId, error) {
  for (const t of state.threads.values()) {
    const p = t.pending.get(clientMsgId);
    if (!p) continue;
    p.failed = error.code === 'CONVERSATION_NOT_FOUND' ? 'you are not a member of this conversation' : error.message;
    settleUploads(p.attachments?.map((a) => a.attachment_id));
    if (view.isShowing(t.id)) {
      view.render();
      if (REFUSALS.has(error.code)) $('#composer-error').textContent = sentence(error.message);
    }
    // What the refusal says may be news to this tab: a block made in
    // another tab, or a group that only admins may now post in.
    if (error.code === 'USER_BLOCKED') blocks.load().catch(() => {});
    if (error.code === 'POSTING_RESTRICTED') refetchSummary(t.id);
  }
}

/** Fetches one summary again now (its posting policy or role changed). */
async function refetchSummary(id) {
  try {
    const fresh = await api('GET', `conversations/${id}`);
    const held = state.conversations.get(id);
    if (held) Object.assign(held, { posting: fresh.posting, role: fresh.role, muted: fresh.muted });
    const t = state.threads.get(id);
    if (t?.isGroup) await t.loadMembers(me());
    renderHeader();
    renderList();
  } catch {
    // The next list reload brings it.
  }
}

// ---------------------------------------------------------------- changing messages

/** request_id → {t, messageId, undo(), what}: changes asked for and not yet answered. */
const requests = new Map();
const REQUEST_TIMEOUT = 10_000;

/**
 * Asks the server for a change, showing it at once. Over the socket the
 * confirmation is the `message.changed` every connection gets, and a
 * refusal an `error` with our `request_id`; with the socket down it goes
 * over REST. A refusal (or no answer) takes the change back and says why.
 */
function requestChange(t, m, change) {
  const requestId = 'r-' + crypto.randomUUID();
  const local = t.localOf(m.message_id);
  const at = new Date().toISOString();
  let frame;
  let rest;
  let what;
  let undo;
  if (change.kind === 'edit') {
    local.edit = { content: change.content, at, requestId };
    frame = { type: 'message.edit', message_id: m.message_id, content: change.content };
    rest = ['PATCH', `conversations/${t.id}/messages/${m.message_id}`, { content: change.content }];
    what = 'The edit was not saved';
    undo = () => local.edit?.requestId === requestId && delete local.edit;
  } else if (change.kind === 'delete') {
    local.deleted = { at, requestId };
    frame = { type: 'message.delete', message_id: m.message_id };
    rest = ['DELETE', `conversations/${t.id}/messages/${m.message_id}`];
    what = 'The message was not deleted';
    undo = () => local.deleted?.requestId === requestId && delete local.deleted;
  } else {
    const { emoji, on } = change;
    local.reactions.set(emoji, { on, requestId });
    frame = { type: on ? 'reaction.add' : 'reaction.remove', message_id: m.message_id, emoji };
    rest = [on ? 'PUT' : 'DELETE', `conversations/${t.id}/messages/${m.message_id}/reactions/${encodeURIComponent(emoji)}`];
    what = on ? 'The reaction was not added' : 'The reaction was not taken back';
    undo = () => local.reactions.get(emoji)?.requestId === requestId && local.reactions.delete(emoji);
  }
  requests.set(requestId, { t, messageId: m.message_id, undo, what });
  if (view.isShowing(t.id)) view.render();

  if (socket.send({ ...frame, request_id: requestId })) {
    setTimeout(() => {
      if (!requests.has(requestId)) return;
      // Still shown as asked but never confirmed: the frame was lost with the connection.
      const shown = t.local.get(m.message_id);
      const open = shown && (shown.edit?.requestId === requestId || shown.deleted?.requestId === requestId ||
        [...shown.reactions.values()].some((r) => r.requestId === requestId));
      if (open) failRequest(requestId, { message: 'the server did not answer. Try again.' });
      else requests.delete(requestId);
    }, REQUEST_TIMEOUT);
    return;
  }
  api(...rest)
    .then(async (answer) => {
      requests.delete(requestId);
      if (answer.change) await receiveChange(answer.change, { live: false });
      else {
        // Nothing changed (the reaction was already there, or was not): the message as it is.
        t.add({ ...answer.message, seq: m.seq });
        undo();
        t.dropLocalIfEmpty(m.message_id);
      }
      if (view.isShowing(t.id)) view.render();
    })
    .catch((err) => failRequest(requestId, err));
}

/** A change was refused: show it as it was, and say why. */
function failRequest(requestId, error) {
  const request = requests.get(requestId);
  if (!request) return;
  requests.delete(requestId);
  request.undo();
  request.t.dropLocalIfEmpty(request.messageId);
  if (view.isShowing(request.t.id)) view.render();
  const reason = error.message || 'unknown error';
  toast(`${request.what}: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`);
}

/** What the message actions do (the view calls them). */
const actions = {
  reply(m) {
    const t = state.threads.get(m.conversation_id);
    if (!t) return;
    setReply(t, m);
    input.focus();
  },
  react(m, emoji) {
    const t = state.threads.get(m.conversation_id);
    if (!t) return;
    const mine = (t.effective(m).reactions || []).some((r) => r.emoji === emoji && r.me);
    requestChange(t, m, { kind: 'react', emoji, on: !mine });
  },
  edit(m, content) {
    const t = state.threads.get(m.conversation_id);
    if (t) requestChange(t, m, { kind: 'edit', content });
  },
  async delete(m) {
    const t = state.threads.get(m.conversation_id);
    if (!t) return;
    const v = t.effective(m);
    if (v.deleted_at) return;
    if (await confirmDelete(v, m.sender_id === me())) requestChange(t, m, { kind: 'delete' });
  },
  /** Reports someone else's message to the server's operators, with an optional reason. */
  async report(m) {
    const t = state.threads.get(m.conversation_id);
    if (!t || m.sender_id === me()) return;
    const v = t.effective(m);
    const reason = await reportReason({ sender: nameOf(m.sender_id), excerpt: excerpt(textOrFiles(v)) });
    if (reason === null) return;
    try {
      const { status } = await apiWithStatus('POST', `conversations/${m.conversation_id}/messages/${m.message_id}/reports`, { reason });
      // 200: reported before (the first report stands, its reason too).
      toast(status === 201 ? 'Thanks. The message was reported to the operators.' : 'You had already reported this message.');
    } catch (err) {
      toast(`The message was not reported: ${err.message.charAt(0).toLowerCase()}${err.message.slice(1)}`);
    }
  },
};

/** Asks before deleting (an in-page dialog: native ones block the page). */
function confirmDelete(v, mine) {
  const dialog = $('#delete-dialog');
  $('#delete-excerpt').textContent = excerpt(textOrFiles(v));
  $('#delete-who').textContent = mine ? 'It will be deleted for everyone in this conversation.' : `You are deleting ${nameOf(v.sender_id)}'s message for everyone in this group.`;
  dialog.returnValue = '';
  dialog.showModal();
  $('#delete-cancel').focus();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'delete'), { once: true }));
}

let toastTimer = null;
/** A short notice at the bottom of the page (refused changes, and the like). */
function toast(text) {
  const node = $('#toast');
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 6_000);
}
$('#toast').addEventListener('click', () => ($('#toast').hidden = true));

const handlers = {
  'message.new': (f) => receive(f, { live: true }),
  'message.group.new': (f) => receive(f, { live: true }),
  'message.changed': (f) => receiveChange(f, { live: true }),
  'message.sent': onSent,
  'messages.offline': (f) => receiveBatch(f.messages, f.changes),
  'messages.sync': async (f) => {
    const t = state.threads.get(f.conversation_id);
    if (t) t.syncing = false;
    await receiveBatch(f.messages, f.changes);
    if (t && f.has_more && (f.messages.length || f.changes?.length)) requestSync(t);
  },
  'message.delivered': (f) => cursorMoved('delivered', f),
  'message.read': (f) => {
    if (f.user_id === me()) {
      // Read on another device of mine.
      const summary = state.conversations.get(f.conversation_id);
      if (summary && f.seq >= (summary.last_message?.seq || 0)) {
        summary.unread_count = 0;
        summary.mention_count = 0;
        notify.read(f.conversation_id);
      } else if (summary) {
        refreshSummary(f.conversation_id);
      }
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
    if (f.request_id && requests.has(f.request_id)) failRequest(f.request_id, f);
    else if (!f.client_msg_id) console.warn('server error frame', f.code, f.message);
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

/** Whom this user blocked: the header, the composer's notice and the settings list follow it. */
let blockedBefore = new Set();
const blocks = new Blocks({
  changed: () => {
    // The server hides a blocked user's presence from the blocker: forget
    // what was shown, and ask again once the block is lifted.
    for (const id of blocks.users.keys()) state.presence.set(id, { online: false, last_seen: null });
    for (const id of blockedBefore) {
      if (blocks.has(id)) continue;
      state.presence.delete(id);
      for (const c of state.conversations.values()) if (c.peer?.user_id === id) watchPeer(c);
    }
    blockedBefore = new Set(blocks.users.keys());
    renderList();
    renderHeader();
    if (!$('#settings').hidden) blocks.render();
  },
});

const search = messageSearch({
  me,
  titleOf: (id) => {
    const summary = state.conversations.get(id);
    return summary ? titleOf(summary) : '…';
  },
  nameOf,
  open: (id, messageId) => openConversation(id, { at: messageId }),
});

// ---------------------------------------------------------------- start

userSearch($('#user-search'), $('#search-results'), {
  me,
  label: 'Message',
  pick: async (u) => {
    let summary;
    try {
      summary = await api('POST', `conversations/direct/${encodeURIComponent(u.username)}`);
    } catch (err) {
      // Refused across a block: a conversation held already opens (with
      // its notice); otherwise the reason shows in the results.
      const held = [...state.conversations.values()].find((c) => c.peer?.user_id === u.user_id);
      if (!held) {
        $('#search-results').replaceChildren(el('li', { class: 'empty', role: 'alert', text: err.message }));
        return;
      }
      summary = held;
    }
    $('#user-search').value = '';
    $('#search-results').hidden = true;
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

const notify = notifications({
  me,
  openId: () => state.openId,
  titleOf,
  nameOf: nameOfSoon,
  open: (id) => openConversation(id).catch((err) => toast(err.message)),
});

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
  blocks.error = '';
  blocks.render();
  blocks.load().catch((err) => {
    blocks.error = err.message;
    blocks.render();
  });
});
$('#close-settings').addEventListener('click', closeConversation);

const admin = adminView({ me });
$('#open-admin').addEventListener('click', () => {
  closeConversation();
  $('#placeholder').hidden = true;
  $('#admin').hidden = false;
  $('#app').dataset.view = 'pane';
  admin.open();
});
$('#close-admin').addEventListener('click', closeConversation);

/** The signed-in user in the sidebar's header. */
function showMe() {
  $('#me-name').textContent = state.me.display_name || state.me.username;
  $('#me-avatar').textContent = initials(state.me.display_name || state.me.username);
}
$('#logout').addEventListener('click', async () => {
  socket.stop();
  forgetFiles();
  // While the tokens still work: this device stops getting the user's pushes.
  await notify.signOut();
  logout();
});
lightbox(toast);

async function start() {
  state.me = await api('GET', 'auth/me');
  remember([state.me]);
  showMe();
  // The admin view is for the server's operators only (the API refuses others anyway).
  $('#open-admin').hidden = !state.me.is_admin;
  notify.start();
  await Promise.all([loadConversations(), blocks.load().catch(() => {})]);
  // Sends typed before a reload are still in the outbox: show them again.
  for (const frame of socket.pending()) {
    const id = conversationOfFrame(frame);
    const pending = { content: frame.content, reply_to: frame.reply_to, attachments: uploadsOf(frame.attachments) };
    sentContent.set(frame.client_msg_id, pending);
    if (id && state.conversations.has(id)) thread(id).pending.set(frame.client_msg_id, pending);
  }
  keepFresh();
  socket.connect();
  // Being added to a group sends no event until its first message; a
  // periodic look at the list (and one on coming back to the tab) shows it.
  setInterval(() => document.visibilityState === 'visible' && loadConversations().catch(() => {}), 30_000);
  window.addEventListener('focus', () => {
    loadConversations().catch(() => {});
    blocks.load().catch(() => {});
  });
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('c');
  if (fromHash && state.conversations.has(fromHash)) openConversation(fromHash);
}

start().catch((err) => {
  connection.dataset.state = 'offline';
  connection.textContent = err.message;
  connection.hidden = false;
});
