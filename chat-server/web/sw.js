// The demo's service worker: it shows the notifications the server pushes
// while the user has no open connection (docs/api.md, "Push
// notifications"), and opens the conversation when one is clicked, also
// for the notifications the page itself shows while it is open.
//
// It is served from the demo's own directory (`sw.js` beside `chat.html`),
// so its scope covers the chat page, under a nested prefix too. It handles
// no `fetch`: the demo works without it, it only notifies.

// A new version takes over at once: it holds no state an old page relies on.
self.addEventListener('install', () => self.skipWaiting());

self.addEventListener('push', (event) => {
  event.waitUntil(showPush(event.data));
});

/**
 * One push is one conversation's burst: `{conversation_id,
 * conversation_kind, title, body, sender_id, message_id, seq, count,
 * mentioned, badge, sent_at}`. The server pushes only while the user has
 * no live connection, so it is always shown (`userVisibleOnly` promises
 * the browser as much anyway).
 */
async function showPush(data) {
  let push = null;
  try {
    push = data ? data.json() : null;
  } catch {
    push = null;
  }
  if (!push || typeof push.conversation_id !== 'string') {
    // Something unreadable still has to show something.
    await self.registration.showNotification('Chat', { body: 'New messages' });
    return;
  }
  const count = Number.isInteger(push.count) ? push.count : 1;
  const body = String(push.body || '') + (count > 1 ? ` (${count} new)` : '');
  const sentAt = Date.parse(push.sent_at);
  await self.registration.showNotification(String(push.title || 'Chat'), {
    body,
    // One notification per conversation: a newer one replaces the older,
    // and still alerts (renotify).
    tag: push.conversation_id,
    renotify: true,
    timestamp: Number.isFinite(sentAt) ? sentAt : Date.now(),
    data: {
      conversation_id: push.conversation_id,
      conversation_kind: push.conversation_kind,
      message_id: push.message_id,
      seq: push.seq,
      count,
      mentioned: Boolean(push.mentioned),
    },
  });
  // The unread count on an installed app's icon; most browsers have none.
  if (Number.isInteger(push.badge) && 'setAppBadge' in navigator) {
    try {
      await (push.badge > 0 ? navigator.setAppBadge(push.badge) : navigator.clearAppBadge());
    } catch {
      // Not installed, or not allowed: the notification said it already.
    }
  }
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(openChat(event.notification.data?.conversation_id));
});

/**
 * Brings the chat to the front with `conversationId` open: a chat page
 * already there (the focused one, else a visible one, else any) is focused
 * and told which conversation to open; without one, the chat page opens
 * on it (`#c=<id>` is how the page selects a conversation on load).
 */
async function openChat(conversationId) {
  const chatPage = new URL('chat.html', self.registration.scope);
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const chats = windows.filter((client) => new URL(client.url).pathname === chatPage.pathname);
  const chat =
    chats.find((client) => client.focused) || chats.find((client) => client.visibilityState === 'visible') || chats[0];
  if (chat) {
    try {
      await chat.focus();
    } catch {
      // Focusing may be refused; the conversation still opens in it.
    }
    if (conversationId) chat.postMessage({ type: 'open-conversation', conversation_id: conversationId });
    return;
  }
  if (conversationId) chatPage.hash = 'c=' + encodeURIComponent(conversationId);
  await self.clients.openWindow(chatPage.href);
}
