// Notifications on this device: the "Notifications" control of the
// settings (Off, Mentions and direct messages, All messages), Web Push
// while the chat is closed, and notifications shown by the page itself
// while it is open.
//
// The level is kept in localStorage per user, since it is this device's
// choice. Turning it on asks the browser's permission, registers the
// service worker (`sw.js`, which shows pushes and handles every click) and
// subscribes to the browser's push service with the server's VAPID key
// (docs/api.md, "Push notifications"). Subscribing can fail: no push
// service reachable, a browser without push, a private window. The page
// then says so, and still notifies while it is open.

import { api, publicApi } from './api.js';
import { textOrFiles } from './attachments.js';
import { $ } from './dom.js';

const LEVELS = ['off', 'mentions', 'all'];
/** The server's registration of this device: `{userId, id, endpoint, key}`. */
const PUSH_KEY = 'chat.push';
/** How long the push service gets to answer a subscribe (one with no network never does). */
const SUBSCRIBE_TIMEOUT = 15_000;
/** How long signing out waits for the subscription to be deleted. */
const SIGN_OUT_TIMEOUT = 3_000;
/** The longest body, in characters, as the server cuts its pushes. */
const BODY_MAX = 120;
const WHILE_OPEN = "You'll be notified while this tab is open.";

/**
 * `me()` is the signed-in user's id, `openId()` the conversation shown,
 * `titleOf(summary)` a conversation's name, `nameOf(userId)` a promise of
 * a user's name, `open(id)` opens a conversation (a notification clicked).
 */
export function notifications({ me, openId, titleOf, nameOf, open }) {
  const fieldset = $('#notify-level');
  const status = $('#notify-status');
  const supported = 'Notification' in window && window.isSecureContext;
  const workers = supported && 'serviceWorker' in navigator;

  const levelKey = () => 'chat.notify.' + me();
  function level() {
    const stored = localStorage.getItem(levelKey());
    return LEVELS.includes(stored) ? stored : 'off';
  }

  function say(text) {
    status.textContent = text;
  }

  function show(chosen) {
    for (const input of fieldset.querySelectorAll('input[name="notify-level"]')) input.checked = input.value === chosen;
  }

  // One change at a time: a click while the last one is still under way
  // waits for it, and then applies the level chosen last.
  let chain = Promise.resolve();
  function queue(task) {
    chain = chain.then(task).catch((err) => {
      console.warn('notifications:', err);
      say(`Notifications could not be set up: ${reason(err)}.`);
    });
    return chain;
  }

  fieldset.addEventListener('change', (event) => {
    const chosen = event.target.value;
    if (!LEVELS.includes(chosen)) return;
    // Asked here, in the click, where browsers allow the prompt.
    const asking = chosen !== 'off' && supported && Notification.permission === 'default' ? Notification.requestPermission() : null;
    queue(async () => {
      if (asking) await asking.catch(() => 'default');
      await apply(chosen);
    });
  });

  /** Makes the device match `chosen`: permission, service worker, push subscription. */
  async function apply(chosen) {
    if (chosen === 'off') {
      localStorage.setItem(levelKey(), 'off');
      show('off');
      say('');
      await forgetPush();
      return;
    }
    if (!supported) return;
    if (Notification.permission !== 'granted') {
      // Refused (or the prompt dismissed): nothing can show, so the control says off.
      localStorage.setItem(levelKey(), 'off');
      show('off');
      say(
        Notification.permission === 'denied'
          ? 'Notifications are blocked for this site: allow them in the browser’s site settings, then choose again.'
          : 'Notifications were not allowed. Choose again to be asked once more.',
      );
      return;
    }
    localStorage.setItem(levelKey(), chosen);
    show(chosen);
    say('Turning notifications on…');
    if (!workers) {
      say(`Push unavailable in this browser: it has no service workers. ${WHILE_OPEN}`);
      return;
    }
    const registration = await navigator.serviceWorker.register('sw.js');
    await syncPush(registration, chosen);
  }

  /**
   * Subscribes this device (again when the server's key changed) and
   * registers the subscription with the level, or says why push is out.
   */
  async function syncPush(registration, chosen) {
    let key;
    try {
      key = (await publicApi('GET', 'push/config')).vapid_public_key;
    } catch (err) {
      say(`Push could not be set up: ${reason(err)}. ${WHILE_OPEN}`);
      return;
    }
    if (!key) {
      say(`This server sends no push notifications. ${WHILE_OPEN}`);
      return;
    }
    if (!registration.pushManager) {
      say(`Push unavailable in this browser: it has no Push API. ${WHILE_OPEN}`);
      return;
    }
    const stored = readPush();
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription, key, stored)) {
      // The server's key changed: the old subscription is signed for by
      // nobody now, and the browser refuses a second one with another key.
      await forgetPush();
      subscription = null;
    }
    if (!subscription) {
      const subscribing = registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytesOf(key) });
      try {
        subscription = await within(subscribing, SUBSCRIBE_TIMEOUT, 'the push service did not answer');
      } catch (err) {
        console.warn('push subscription failed:', err);
        say(`Push unavailable in this browser: ${reason(err)}. ${WHILE_OPEN}`);
        // A push service that answers late still counts.
        subscribing.then(
          () => level() !== 'off' && queue(() => apply(level())),
          () => {},
        );
        return;
      }
    }
    const json = subscription.toJSON();
    let id = null;
    if (stored && stored.userId === me() && stored.endpoint === json.endpoint && stored.key === key) {
      // Known to the server: set the level (a 404 means the server dropped
      // it, its push service having forgotten it, so it registers anew).
      try {
        id = (await api('PATCH', `push/subscriptions/${stored.id}`, { level: chosen })).id;
      } catch (err) {
        if (err.status !== 404) throw err;
      }
    }
    if (!id) {
      try {
        id = (await api('POST', 'push/subscriptions', { ...json, level: chosen })).id;
      } catch (err) {
        say(`The server did not take this device for push: ${reason(err)}. ${WHILE_OPEN}`);
        return;
      }
    }
    localStorage.setItem(PUSH_KEY, JSON.stringify({ userId: me(), id, endpoint: json.endpoint, key }));
    say('On. This device is notified even while the chat is closed.');
  }

  /** Deletes this device's subscription on the server (when it is this user's) and in the browser. */
  async function forgetPush() {
    const stored = readPush();
    localStorage.removeItem(PUSH_KEY);
    if (stored && stored.userId === me()) {
      try {
        await api('DELETE', `push/subscriptions/${stored.id}`);
      } catch (err) {
        if (err.status !== 404) console.warn('push subscription not deleted:', err);
      }
    }
    if (!workers) return;
    // Even another user's: unsubscribed, its endpoint is dead, and the
    // server deletes it at its next push.
    const registration = await navigator.serviceWorker.getRegistration();
    const subscription = await registration?.pushManager?.getSubscription();
    try {
      await subscription?.unsubscribe();
    } catch (err) {
      console.warn('push unsubscribe failed:', err);
    }
  }

  // A click on a notification (sw.js) asks an open chat page to show the conversation.
  if (workers) {
    navigator.serviceWorker.addEventListener('message', (event) => {
      if (event.data?.type === 'open-conversation' && typeof event.data.conversation_id === 'string') {
        open(event.data.conversation_id);
      }
    });
  }

  /** Whether a new message `m` of `summary` is worth a notification now. */
  function worthIt(m, summary) {
    const chosen = level();
    if (chosen === 'off' || !supported || Notification.permission !== 'granted') return false;
    if (m.sender_id === me() || summary.muted || m.deleted_at) return false;
    // Being looked at: the message is on screen.
    if (!document.hidden && openId() === m.conversation_id) return false;
    if (chosen === 'mentions' && summary.kind !== 'direct' && !(m.mentions || []).includes(me())) return false;
    return true;
  }

  /** Shows `title`/`body` tagged with the conversation, through the service worker when there is one. */
  async function showLocal(conversationId, title, body) {
    const options = { body, tag: conversationId, renotify: true, data: { conversation_id: conversationId } };
    const registration = workers ? await navigator.serviceWorker.getRegistration() : null;
    if (registration?.active) {
      // Its clicks then go through sw.js like those of pushes.
      await registration.showNotification(title, options);
      return;
    }
    const notification = new Notification(title, options);
    notification.addEventListener('click', () => {
      notification.close();
      window.focus();
      open(conversationId);
    });
  }

  return {
    /** Restores the control for the signed-in user and brings the subscription up to date. */
    start() {
      const chosen = level();
      show(chosen);
      if (!supported) {
        for (const input of fieldset.querySelectorAll('input')) input.disabled = true;
        say(
          window.isSecureContext
            ? 'This browser cannot show notifications.'
            : 'Notifications need the chat to be served over https.',
        );
        return;
      }
      if (chosen === 'off') return;
      if (Notification.permission !== 'granted') {
        say('Notifications are not allowed in this browser any more. Choose a level again to be asked.');
        return;
      }
      queue(() => apply(chosen));
    },

    /** A live message reached the page: notifies when the user is not looking at it. */
    async incoming(m, summary) {
      if (!worthIt(m, summary)) return;
      try {
        const sender = await nameOf(m.sender_id);
        // The user may have opened it meanwhile.
        if (!worthIt(m, summary)) return;
        const text = oneLine(textOrFiles(m));
        const group = summary.kind === 'group';
        const count = summary.unread_count || 1;
        const body = (group ? `${sender}: ${text}` : text) + (count > 1 ? ` (${count} new)` : '');
        await showLocal(m.conversation_id, group ? titleOf(summary) : sender, body);
      } catch (err) {
        console.warn('notification not shown:', err);
      }
    },

    /** The conversation was read: its notification has nothing left to say. */
    async read(conversationId) {
      if (!workers) return;
      try {
        const registration = await navigator.serviceWorker.getRegistration();
        for (const n of (await registration?.getNotifications({ tag: conversationId })) || []) n.close();
      } catch {
        // Nothing shown, or nothing to close.
      }
    },

    /** Before logging out: this device stops receiving the user's pushes (best effort, briefly). */
    signOut() {
      return within(forgetPush(), SIGN_OUT_TIMEOUT, 'timed out').catch((err) => console.warn('push not forgotten:', err));
    },
  };
}

function readPush() {
  try {
    return JSON.parse(localStorage.getItem(PUSH_KEY));
  } catch {
    return null;
  }
}

/** Whether `subscription` was made with the server's `key` (base64url). */
function sameKey(subscription, key, stored) {
  const held = subscription.options?.applicationServerKey;
  if (!held) return stored?.key === key;
  const a = new Uint8Array(held);
  const b = bytesOf(key);
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The bytes of a base64url string (padded or not). */
function bytesOf(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** `promise`, or a failure saying `what` after `ms`. */
function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(what)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** An error's message, lower-cased at the start, with no final stop, to sit inside a sentence. */
function reason(err) {
  const text = String(err?.message || err || 'unknown error').trim().replace(/\.$/, '');
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** A message's text on one line, cut like the server's pushes. */
function oneLine(text) {
  const flat = String(text || '').replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length > BODY_MAX ? chars.slice(0, BODY_MAX - 1).join('') + '…' : flat;
}
