// Notifications, end to end: Bob turns them on in the settings (the
// service worker registers, the choice survives a reload), a message in a
// conversation he is not looking at shows a notification tagged with it
// and the tab's title counts it, a push delivered to the service worker
// (through the DevTools protocol: headless Chromium reaches no push
// service) shows as the server words it, the server's own push read at a
// push service of the test's is that same payload, the "Mentions" level
// and muting keep quiet what they should, and logging out deletes the
// device's subscription.
//
// Playwright's contexts are private windows, where Chromium refuses push
// subscriptions outright: the page must say so and go on notifying while
// it is open, which is what a browser without push gets too.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { connected, launch, openConversation, person, screenshot, signup, waitForTexts } from '../lib/browser.mjs';
import { decrypt, newDevice, startPushService } from '../lib/push.mjs';
import { ok, restUser, sessionOf, until } from '../lib/rest.mjs';
import { startServer } from '../lib/server.mjs';

// Chromium's own words when a private window asks for a push subscription,
// logged as an error by the browser, not by the page.
const INCOGNITO_PUSH = 'Chrome currently does not support the Push API in incognito mode';
const PUSH_UNAVAILABLE = /^Push unavailable in this browser: .+\. You'll be notified while this tab is open\.$/;

let server;
let browser;
let pushService;
let bob;
let bobId;
let alice;
let direct;
let group;

before(async () => {
  pushService = await startPushService();
  server = await startServer({
    // The test's push service listens on 127.0.0.1, over plain http.
    CHAT_OUTBOUND_ALLOW: '127.0.0.1/32',
    CHAT_PUSH_SETTLE_MS: '500',
  });
  browser = await launch();
  bob = await person(browser, server.url, 'Bob');
  await bob.context.grantPermissions(['notifications'], { origin: server.url });
  await bob.context.addInitScript(recordShows);
  await signup(bob);
  bobId = (await sessionOf(bob)).userId;
  alice = await restUser(server.url, 'Alice');
  direct = (await ok(server.url, 'POST', `conversations/direct/${encodeURIComponent(bob.username)}`, { token: alice.token })).conversation_id;
  group = (await ok(server.url, 'POST', 'groups', { token: alice.token, body: { name: 'Team', member_ids: [bobId] } })).group_id;
});

after(async () => {
  if (bob) {
    assert.deepEqual(bob.dialogs, [], 'Bob saw dialogs');
    assert.deepEqual(
      bob.errors.filter((e) => !e.startsWith(INCOGNITO_PUSH)),
      [],
      "Bob's page reported errors",
    );
  }
  await browser?.close();
  await server?.dispose();
  await pushService?.close();
});

// ---------------------------------------------------------------- helpers

/** Alice sends `content` to conversation `id` over REST. */
function post(id, content) {
  return ok(server.url, 'POST', `conversations/${id}/messages`, { token: alice.token, body: { content } });
}

/** The notifications Bob's browser shows for the demo (of conversation `tag`, or all). */
function shown(tag = null) {
  return bob.page.evaluate(async (t) => {
    const registration = await navigator.serviceWorker.getRegistration();
    if (!registration) return [];
    const list = await registration.getNotifications(t ? { tag: t } : undefined);
    return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
  }, tag);
}

/** Closes what Bob's browser shows, so the next check starts from nothing. */
function dismissAll() {
  return bob.page.evaluate(async () => {
    window.__shows.length = 0;
    const registration = await navigator.serviceWorker.getRegistration();
    for (const n of (await registration?.getNotifications()) || []) n.close();
  });
}

/**
 * Runs in Bob's page before its own scripts: keeps the tag of each
 * notification the page has finished asking the browser to show
 * (`window.__shows`), and changes nothing else.
 */
function recordShows() {
  window.__shows = [];
  const show = ServiceWorkerRegistration.prototype.showNotification;
  ServiceWorkerRegistration.prototype.showNotification = async function (title, options) {
    await show.call(this, title, options);
    window.__shows.push(options?.tag ?? null);
  };
}

/**
 * Waits until conversation `tag` shows exactly one notification, and gives it.
 *
 * The browser's list is read only once the notification is up: Chromium's
 * `getNotifications()` keeps in its list only what its display already
 * reports, so a read while a notification is still being put up drops
 * that one for good (polling every 100 ms lost one run in two). What the
 * page shows is awaited through `recordShows`; what the service worker
 * shows (`byPage: false`, a push) gets a second first.
 */
async function notified(tag, what, { byPage = true } = {}) {
  let list;
  try {
    if (byPage) {
      await until(
        () =>
          bob.page.evaluate((t) => {
            const at = window.__shows.indexOf(t);
            if (at !== -1) window.__shows.splice(at, 1);
            return at !== -1;
          }, tag),
        { what: `the page to show ${what}` },
      );
    } else {
      await new Promise((ok) => setTimeout(ok, 1_000));
    }
    list = await until(async () => {
      const now = await shown(tag);
      return now.length ? now : null;
    }, { what, every: 500 });
  } catch (err) {
    throw new Error(`${err.message}; the page: ${JSON.stringify(await pageState())}`, { cause: err });
  }
  assert.equal(list.length, 1, `one notification for ${what}`);
  return list[0];
}

/** What Bob's page knows that decides a notification, for a failure to explain itself. */
async function pageState() {
  const state = await bob.page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    return {
      title: document.title,
      hidden: document.hidden,
      permission: Notification.permission,
      level: document.querySelector('#notify-level input:checked')?.value ?? null,
      worker: registration ? { active: registration.active?.state ?? null, waiting: Boolean(registration.waiting) } : null,
      previews: [...document.querySelectorAll('.conversation-item .item-preview')].map((e) => e.textContent),
    };
  });
  return { ...state, warnings: bob.warnings };
}

function waitForTitle(title) {
  return bob.page.waitForFunction((t) => document.title === t, title, { timeout: 10_000 });
}

function openSettings() {
  return bob.page.click('#open-settings');
}

/** The list entry's preview of the conversation titled `title`. */
function preview(title) {
  return bob.page.locator('.conversation-item', { has: bob.page.locator('.item-title', { hasText: title }) }).locator('.item-preview');
}

/** What the control says: the level checked and the status line. */
async function control() {
  return bob.page.evaluate(() => ({
    level: document.querySelector('#notify-level input:checked')?.value ?? null,
    status: document.querySelector('#notify-status').textContent,
  }));
}

async function waitForStatus(pattern) {
  try {
    await bob.page.waitForFunction((source) => new RegExp(source).test(document.querySelector('#notify-status').textContent), pattern.source, {
      timeout: 20_000,
    });
  } catch (err) {
    throw new Error(`the status says ${JSON.stringify((await control()).status)}`, { cause: err });
  }
}

/** Bob's push subscriptions on the server. */
async function subscriptions(token) {
  return (await ok(server.url, 'GET', 'push/subscriptions', { token })).subscriptions;
}

/** The service worker's registration id, which the DevTools protocol delivers pushes to. */
async function devtools() {
  const cdp = await bob.context.newCDPSession(bob.page);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (event) => registrations.push(...event.registrations));
  await cdp.send('ServiceWorker.enable');
  const registration = await until(
    () => registrations.findLast((r) => r.scopeURL === server.url + '/' && !r.isDeleted),
    { what: 'the service worker registration' },
  );
  return { cdp, registrationId: registration.registrationId };
}

async function deliver(payload) {
  const { cdp, registrationId } = await devtools();
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: server.url, registrationId, data: JSON.stringify(payload) });
  await cdp.detach();
}

// ---------------------------------------------------------------- tests

describe('notifications', () => {
  it('serves the service worker beside the pages, under the demo policy', async () => {
    const response = await fetch(server.url + '/sw.js');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/javascript; charset=utf-8');
    const policy = response.headers.get('content-security-policy');
    assert.match(policy, /worker-src 'self'/);
    assert.match(policy, /script-src 'self';/);
    assert.doesNotMatch(policy, /unsafe/);
    assert.match(await response.text(), /notificationclick/);
  });

  it('turning them on registers the service worker, says push is out here, and survives a reload', async () => {
    // Nothing registers until the user asks.
    assert.equal(await bob.page.evaluate(async () => Boolean(await navigator.serviceWorker.getRegistration())), false);
    await openSettings();
    assert.deepEqual(await control(), { level: 'off', status: '' });

    await bob.page.check('#notify-level input[value="all"]');
    await waitForStatus(PUSH_UNAVAILABLE);
    const registration = await bob.page.evaluate(async () => {
      const r = await navigator.serviceWorker.ready;
      return { scope: r.scope, script: r.active?.scriptURL, permission: Notification.permission };
    });
    assert.deepEqual(registration, { scope: server.url + '/', script: server.url + '/sw.js', permission: 'granted' });
    // The browser refused the subscription: the server was told of none.
    assert.deepEqual(await subscriptions((await sessionOf(bob)).accessToken), []);
    await screenshot(bob, 'notifications-settings');

    await bob.page.reload();
    await connected(bob);
    await openSettings();
    assert.equal((await control()).level, 'all');
    // The page tried again on its own, and says the same.
    await waitForStatus(PUSH_UNAVAILABLE);
  });

  it('a message in a conversation not open notifies, replacing the last one, and the tab counts it', async () => {
    // The settings are open: no conversation is.
    await waitForTitle('Chat');
    assert.deepEqual(await shown(), []);

    await post(direct, 'lunch at noon?');
    const first = await notified(direct, 'the first message');
    assert.deepEqual(first, { title: 'Alice', body: 'lunch at noon?', tag: direct, data: { conversation_id: direct } });
    await waitForTitle('(1) Chat');

    await post(direct, 'or at one?');
    await waitForTitle('(2) Chat');
    // `notified` finds exactly one: the newer notification replaces the older.
    assert.equal((await notified(direct, 'the second notification')).body, 'or at one? (2 new)');

    // Opening the conversation reads it: the count and the notification go.
    await openConversation(bob, 'Alice');
    await waitForTitle('Chat');
    await until(async () => (await shown(direct)).length === 0, { what: 'the notification to close' });

    // Open and in view: nothing to notify.
    await post(direct, 'see you');
    await waitForTexts(bob, ['lunch at noon?', 'or at one?', 'see you']);
    await new Promise((ok) => setTimeout(ok, 500));
    assert.deepEqual(await shown(), []);
  });

  it("the service worker's click opens the conversation in the chat page already open", async () => {
    const [worker] = bob.context.serviceWorkers();
    assert.ok(worker, 'the service worker runs');
    // What `notificationclick` runs (a click on a notification cannot be
    // made in headless Chromium): find the chat page, tell it to open Team.
    await worker.evaluate((id) => openChat(id), group);
    await bob.page.waitForFunction(() => document.querySelector('#conversation-title').textContent === 'Team');
    assert.equal(await bob.page.evaluate(() => location.hash), '#c=' + group);
  });

  it('a push delivered to the service worker shows as the server words it', async () => {
    await deliver({
      conversation_id: group,
      conversation_kind: 'group',
      title: 'Team',
      body: 'Alice: lunch at noon?',
      sender_id: alice.userId,
      message_id: randomUUID(),
      seq: 42,
      count: 3,
      mentioned: false,
      badge: 7,
      sent_at: new Date().toISOString(),
    });
    const pushed = await notified(group, 'the push', { byPage: false });
    assert.equal(pushed.title, 'Team');
    assert.equal(pushed.body, 'Alice: lunch at noon? (3 new)');
    assert.equal(pushed.tag, group);
    assert.equal(pushed.data.conversation_id, group);
    assert.equal(pushed.data.count, 3);

    // One message: no count.
    await deliver({
      conversation_id: direct,
      conversation_kind: 'direct',
      title: 'Alice',
      body: '📎 photo.png',
      sender_id: alice.userId,
      message_id: randomUUID(),
      seq: 43,
      count: 1,
      mentioned: false,
      badge: 1,
      sent_at: new Date().toISOString(),
    });
    const single = await notified(direct, 'the second push', { byPage: false });
    assert.deepEqual([single.title, single.body], ['Alice', '📎 photo.png']);
    await dismissAll();
  });

  it("the server's own push, read at a push service, is the payload the service worker shows", async () => {
    const { vapid_public_key: key } = await ok(server.url, 'GET', 'push/config');
    assert.ok(key, 'the server has a VAPID key');
    const device = newDevice();
    const token = (await sessionOf(bob)).accessToken;
    const subscription = await ok(server.url, 'POST', 'push/subscriptions', {
      token,
      body: { endpoint: pushService.url + '/device/bob', keys: device.keys, level: 'all' },
    });

    // Bob leaves the chat for the login page (his socket closes), his
    // session kept aside for coming back.
    const session = await bob.page.evaluate(() => {
      const held = sessionStorage.getItem('chat.session');
      sessionStorage.removeItem('chat.session');
      return held;
    });
    await bob.page.goto(server.url + '/index.html');
    await bob.page.waitForSelector('#login-form:not([hidden])');
    await until(async () => !(await ok(server.url, 'GET', `users/${bobId}`, { token: alice.token })).online, { what: 'Bob offline' });
    await post(group, 'are you there?');
    await post(group, 'hello?');

    const request = await until(() => pushService.received[0], { what: 'a push' });
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/device/bob');
    assert.equal(request.headers['content-encoding'], 'aes128gcm');
    assert.equal(request.headers.ttl, '86400');
    assert.equal(request.headers.urgency, 'normal');
    assert.equal(request.headers.topic, group.replaceAll('-', ''));
    assert.match(request.headers.authorization, new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${key}$`));

    const payload = JSON.parse(decrypt(device, request.body));
    assert.equal(payload.conversation_id, group);
    assert.equal(payload.conversation_kind, 'group');
    assert.equal(payload.title, 'Team');
    assert.equal(payload.body, 'Alice: hello?');
    assert.equal(payload.sender_id, alice.userId);
    assert.equal(payload.count, 2);
    assert.equal(payload.mentioned, false);
    assert.equal(payload.badge, 2);
    // One notification for the burst.
    await new Promise((ok) => setTimeout(ok, 1_000));
    assert.equal(pushService.received.length, 1);

    // Given to the service worker as the browser's push service would.
    await deliver(payload);
    const pushed = await notified(group, "the server's push", { byPage: false });
    assert.deepEqual([pushed.title, pushed.body, pushed.tag], ['Team', 'Alice: hello? (2 new)', group]);
    assert.equal(pushed.data.message_id, payload.message_id);

    // The device is the test's, not this browser's: it goes.
    await ok(server.url, 'DELETE', `push/subscriptions/${subscription.id}`, { token });
    await bob.page.evaluate((held) => sessionStorage.setItem('chat.session', held), session);
    await bob.page.goto(server.url + '/chat.html');
    await connected(bob);
    await dismissAll();
  });

  it('at the Mentions level a plain group message does not notify; a mention and a direct message do', async () => {
    await openSettings();
    await bob.page.check('#notify-level input[value="mentions"]');
    await waitForStatus(PUSH_UNAVAILABLE);
    assert.equal((await control()).level, 'mentions');

    await post(group, 'plain note');
    await preview('Team').filter({ hasText: 'Alice: plain note' }).waitFor({ timeout: 10_000 });
    await new Promise((ok) => setTimeout(ok, 500));
    assert.deepEqual(await shown(group), [], 'a plain group message at the Mentions level');

    await post(group, `@${bob.username} look at this`);
    const mention = await notified(group, 'the mention');
    assert.equal(mention.title, 'Team');
    assert.match(mention.body, new RegExp(`^Alice: @${bob.username} look at this \\(\\d+ new\\)$`));

    await post(direct, 'direct still counts');
    const directly = await notified(direct, 'the direct message');
    assert.deepEqual([directly.title, directly.body], ['Alice', 'direct still counts']);
    await dismissAll();
  });

  it('a muted conversation does not notify', async () => {
    await openConversation(bob, 'Alice');
    await bob.page.click('#mute-toggle');
    await bob.page.waitForSelector('#mute-toggle[aria-pressed="true"]');
    await bob.page.evaluate(() => document.querySelector('#back').click());

    const title = await bob.page.title();
    await post(direct, 'muted news');
    await preview('Alice').filter({ hasText: 'muted news' }).waitFor({ timeout: 10_000 });
    await new Promise((ok) => setTimeout(ok, 500));
    assert.deepEqual(await shown(direct), [], 'a muted conversation');
    // Muted conversations stay out of the tab's count too.
    assert.equal(await bob.page.title(), title);
  });

  it("logging out deletes this device's subscription first", async () => {
    // The browser cannot subscribe here, so the device's registration is
    // put where the page keeps it, as a subscribed browser's would be.
    const { vapid_public_key: key } = await ok(server.url, 'GET', 'push/config');
    const token = (await sessionOf(bob)).accessToken;
    const endpoint = pushService.url + '/device/bob-laptop';
    const subscription = await ok(server.url, 'POST', 'push/subscriptions', {
      token,
      body: { endpoint, keys: newDevice().keys, level: 'mentions' },
    });
    await bob.page.evaluate((record) => localStorage.setItem('chat.push', JSON.stringify(record)), {
      userId: bobId,
      id: subscription.id,
      endpoint,
      key,
    });
    assert.deepEqual((await subscriptions(token)).map((s) => s.id), [subscription.id]);

    await bob.page.click('#logout');
    await bob.page.waitForSelector('#login-form:not([hidden])');
    const again = await ok(server.url, 'POST', 'auth/login', { body: { username: bob.username, password: bob.password } });
    assert.deepEqual(await subscriptions(again.access_token), []);
    assert.equal(await bob.page.evaluate(() => localStorage.getItem('chat.push')), null);
  });
});
