// The demo's polish, point by point as issue 26 lists it beside Slack,
// WhatsApp Web and Element: the unread count in the tab, read told apart
// from delivered, the "New messages" divider, day separators, grouped runs,
// short chats at the bottom, sender names in group previews, form errors
// that do not outlive their form, the settings view, a status bar only when
// something is wrong, and errors placed by the server's `field`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { connected, launch, login, logout, person, screenshot, send, signup, startDirect, waitForMark, waitForTexts } from '../lib/browser.mjs';
import { ok, rest, restUser, sessionOf, until } from '../lib/rest.mjs';
import { startServer } from '../lib/server.mjs';

let server;
let browser;
const people = [];

async function newPerson(name, viewport) {
  const p = await person(browser, server.url, name, viewport);
  people.push(p);
  return p;
}

/** Sends `texts` one after the other from a REST user to a conversation. */
async function post(user, conversationId, texts) {
  for (const content of texts) {
    await ok(server.url, 'POST', `conversations/${conversationId}/messages`, { token: user.token, body: { content } });
  }
}

/** The id of the conversation open in `p`'s page. */
function openId(p) {
  return p.page.evaluate(() => new URLSearchParams(location.hash.slice(1)).get('c'));
}

/** Goes back to the list (the back button is for phones; a click works at any width). */
function leave(p) {
  return p.page.evaluate(() => document.querySelector('#back').click());
}

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  for (const p of people) {
    assert.deepEqual(p.dialogs, [], `${p.name} saw dialogs`);
    assert.deepEqual(
      // Refused requests (wrong passwords, taken emails) log "Failed to load resource" on purpose.
      p.errors.filter((e) => !e.includes('Failed to load resource') && !e.includes('ERR_INTERNET_DISCONNECTED')),
      [],
      `${p.name}'s page reported errors`,
    );
  }
  await browser?.close();
  await server?.dispose();
});

describe('login page', () => {
  it('clears form errors when switching views (forgot password and back)', async () => {
    const lee = await restUser(server.url, 'Lee');
    const p = await newPerson('LeeBrowser');
    await p.page.goto(server.url + '/');
    await p.page.fill('#login-username', lee.username);
    await p.page.fill('#login-password', 'not the password 1!');
    await p.page.click('#login-form button[type=submit]');
    await p.page.waitForSelector('#login-form .form-error:not(:empty)');

    await p.page.click('#show-forgot');
    await p.page.fill('#forgot-email', 'not an email');
    await p.page.click('#forgot-form button[type=submit]');
    await p.page.waitForSelector('#forgot-form [data-error-for="email"]:not(:empty)');

    await p.page.click('#forgot-form [data-back]');
    await p.page.waitForSelector('#login-form:not([hidden])');
    assert.equal(await p.page.textContent('#login-form .form-error'), '');
    assert.equal(await p.page.isVisible('#login-form .form-error'), false);
    await p.page.click('#show-forgot');
    assert.equal(await p.page.textContent('#forgot-form [data-error-for="email"]'), '');
    assert.equal(await p.page.getAttribute('#forgot-email', 'aria-invalid'), null);
  });

  it("places signup errors by the server's `field`, and nothing else", async () => {
    const taken = await restUser(server.url, 'Taken');
    const p = await newPerson('Field');
    await p.page.goto(server.url + '/');
    await p.page.click('#tab-signup');
    await p.page.fill('#signup-username', taken.username);
    await p.page.fill('#signup-email', 'fresh-' + taken.email);
    await p.page.fill('#signup-password', 's3cret!pass');
    await p.page.click('#signup-form button[type=submit]');
    // USERNAME_TAKEN names `username`; EMAIL_TAKEN names `email`.
    await p.page.waitForSelector('#signup-form [data-error-for="username"]:not(:empty)');
    await p.page.fill('#signup-username', 'fresh' + taken.username);
    await p.page.fill('#signup-email', taken.email);
    await p.page.click('#signup-form button[type=submit]');
    await p.page.waitForSelector('#signup-form [data-error-for="email"]:not(:empty)');
    assert.equal(await p.page.textContent('#signup-form [data-error-for="username"]'), '');

    // The page keeps no table of codes: an error without `field` goes to the form's foot.
    await p.page.route('**/api/v1/auth/signup', (route) =>
      route.fulfill({
        status: 409,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'USERNAME_TAKEN', message: 'no field given' } }),
      }),
    );
    await p.page.fill('#signup-email', 'other-' + taken.email);
    await p.page.click('#signup-form button[type=submit]');
    await p.page.waitForSelector('#signup-form .form-error:not(:empty)');
    assert.equal(await p.page.textContent('#signup-form .form-error'), 'no field given');
    assert.equal(await p.page.textContent('#signup-form [data-error-for="username"]'), '');
  });
});

describe('the tab and the status bar', () => {
  it('shows the unread count in the title and the favicon, live, and clears it', async () => {
    const dan = await newPerson('Dan');
    await signup(dan);
    const cat = await restUser(server.url, 'Cat');
    const { userId } = await sessionOf(dan);
    assert.equal(await dan.page.title(), 'Chat');

    for (const content of ['one', 'two']) {
      await ok(server.url, 'POST', 'messages/send', { token: cat.token, body: { recipient_id: userId, content } });
    }
    const badged = (count) =>
      dan.page.waitForFunction(
        (n) =>
          document.title === `(${n}) Chat` &&
          decodeURIComponent(document.querySelector('link[rel="icon"]').href).startsWith('data:image/svg+xml,') &&
          decodeURIComponent(document.querySelector('link[rel="icon"]').href).includes(`>${n}</text>`),
        count,
      );
    await badged(2);

    // Reading clears both.
    await dan.page.locator('.conversation-item', { hasText: 'Cat' }).click();
    await waitForTexts(dan, ['one', 'two']);
    await dan.page.waitForFunction(() => document.title === 'Chat');
    assert.equal(await dan.page.getAttribute('link[rel="icon"]', 'href'), 'favicon.svg');

    // A message to a conversation that is not open counts again.
    await leave(dan);
    await ok(server.url, 'POST', 'messages/send', { token: cat.token, body: { recipient_id: userId, content: 'three' } });
    await badged(1);
  });

  it('shows the connection bar only while the socket is down', async () => {
    const eve = await newPerson('Eve');
    await signup(eve);
    assert.equal(await eve.page.isVisible('#connection'), false);

    await eve.context.setOffline(true);
    await eve.page.waitForSelector('#connection[data-state="offline"]', { state: 'visible' });
    assert.match(await eve.page.textContent('#connection'), /offline/i);

    await eve.context.setOffline(false);
    await connected(eve);
    await eve.page.waitForSelector('#connection', { state: 'hidden' });
  });
});

describe('the conversation view', () => {
  it('tells read from delivered: a filled mark, each labelled Sent, Delivered or Read', async () => {
    const amy = await newPerson('Amy');
    const ben = await newPerson('Ben');
    await signup(amy);
    await signup(ben);
    // Cy never connects: Amy's message to her stays "sent".
    const cy = await restUser(server.url, 'Cy');

    await startDirect(amy, cy);
    await send(amy, 'to Cy');
    await waitForMark(amy, 'to Cy', 'sent');
    const sent = amy.page.locator('.message.mine .mark').last();
    assert.equal(await sent.getAttribute('role'), 'img');
    assert.equal(await sent.getAttribute('aria-label'), 'Sent');
    assert.equal(await sent.getAttribute('title'), 'Sent');

    await startDirect(amy, ben);
    await send(amy, 'to Ben');
    await waitForMark(amy, 'to Ben', 'delivered');
    const mark = amy.page.locator('.message.mine .mark').last();
    assert.equal(await mark.getAttribute('aria-label'), 'Delivered');
    const style = (locator) =>
      locator.evaluate((node) => {
        const s = getComputedStyle(node);
        return { color: s.color, background: s.backgroundColor };
      });
    const delivered = await style(mark);

    await ben.page.locator('.conversation-item', { hasText: 'Amy' }).click();
    await waitForMark(amy, 'to Ben', 'read');
    assert.equal(await mark.getAttribute('aria-label'), 'Read');
    assert.equal(await mark.getAttribute('title'), 'Read');
    const read = await style(mark);
    // Read is filled; delivered is a plain tick on the bubble.
    assert.equal(delivered.background, 'rgba(0, 0, 0, 0)');
    assert.notEqual(read.background, 'rgba(0, 0, 0, 0)');
    assert.notEqual(read.color, delivered.color);
    await screenshot(amy, 'polish-read-mark');
  });

  it('opens 67 unread messages at a "New messages" divider, not at the bottom', async () => {
    const ann = await newPerson('Ann');
    await signup(ann);
    const bob = await restUser(server.url, 'Bob');
    await startDirect(ann, bob);
    await send(ann, 'hello Bob');
    await waitForMark(ann, 'hello Bob', 'sent');
    const conversationId = await openId(ann);
    await post(bob, conversationId, ['already read']);
    await waitForTexts(ann, ['hello Bob', 'already read']);
    // Open and visible: it is read (once the server says so, Ann may leave), with no divider.
    const { accessToken } = await sessionOf(ann);
    const allRead = () =>
      until(
        async () => (await ok(server.url, 'GET', `conversations/${conversationId}`, { token: accessToken })).unread_count === 0,
        { what: 'Ann to read everything' },
      );
    await allRead();
    assert.equal(await ann.page.locator('.separator.new-messages').count(), 0);
    await leave(ann);

    const unread = Array.from({ length: 67 }, (_, i) => `unread ${i + 1}`);
    await post(bob, conversationId, unread);
    await ann.page.waitForFunction(() => document.querySelector('.conversation-item .badge')?.textContent === '67');
    await ann.page.locator('.conversation-item', { hasText: 'Bob' }).click();
    // Every unread message is loaded (more than the first page of 50).
    await waitForTexts(ann, ['hello Bob', 'already read', ...unread]);

    const divider = ann.page.locator('#message-list .separator.new-messages');
    assert.equal(await divider.textContent(), 'New messages');
    // It sits right before the first unread message, and the view opens on it.
    assert.equal(
      await divider.evaluate((node) => node.nextElementSibling.querySelector('.content').textContent),
      'unread 1',
    );
    const view = await ann.page.evaluate(() => {
      const pane = document.querySelector('#messages').getBoundingClientRect();
      const line = document.querySelector('.separator.new-messages').getBoundingClientRect();
      const s = document.querySelector('#messages');
      return { dividerTop: line.top - pane.top, paneHeight: pane.height, fromBottom: s.scrollHeight - s.scrollTop - s.clientHeight };
    });
    assert.ok(view.dividerTop >= 0 && view.dividerTop < view.paneHeight / 3, `divider at ${view.dividerTop}px of ${view.paneHeight}`);
    assert.ok(view.fromBottom > 200, `the view jumped to the bottom (${view.fromBottom}px from it)`);
    await screenshot(ann, 'polish-new-messages');

    // It stays while the conversation is open, and new messages do not move the view.
    const scrollTop = await ann.page.$eval('#messages', (s) => s.scrollTop);
    await post(bob, conversationId, ['one more']);
    await waitForTexts(ann, ['hello Bob', 'already read', ...unread, 'one more']);
    assert.equal(await divider.count(), 1);
    assert.equal(await ann.page.$eval('#messages', (s) => s.scrollTop), scrollTop);

    // Everything was read while open: reopened, no divider and the newest in view.
    await allRead();
    await leave(ann);
    await ann.page.locator('.conversation-item', { hasText: 'Bob' }).click();
    await ann.page.waitForFunction(() => {
      const s = document.querySelector('#messages');
      return !document.querySelector('.separator.new-messages') && s.scrollHeight - s.scrollTop - s.clientHeight < 2;
    });
    await waitForTexts(ann, ['hello Bob', 'already read', ...unread, 'one more']);
  });

  it('anchors a short chat at the bottom of the pane', async () => {
    const fay = await newPerson('Fay');
    await signup(fay);
    const gus = await restUser(server.url, 'Gus');
    await startDirect(fay, gus);
    await send(fay, 'just one line');
    await waitForMark(fay, 'just one line', 'sent');
    const place = await fay.page.evaluate(() => {
      const pane = document.querySelector('#messages').getBoundingClientRect();
      const last = [...document.querySelectorAll('#message-list .message')].at(-1).getBoundingClientRect();
      return { gapBelow: pane.bottom - last.bottom, gapAbove: last.top - pane.top, height: pane.height };
    });
    assert.ok(place.gapBelow < 40, `${place.gapBelow}px below the newest message`);
    assert.ok(place.gapAbove > place.height / 2, `${place.gapAbove}px above it`);
    await screenshot(fay, 'polish-short-chat');

    // A long chat still scrolls from its top.
    await post(gus, await openId(fay), Array.from({ length: 30 }, (_, i) => `line ${i + 1}`));
    await fay.page.waitForFunction(() => document.querySelectorAll('#message-list .message').length === 31);
    await fay.page.$eval('#messages', (s) => (s.scrollTop = 0));
    const top = await fay.page.evaluate(() => {
      const pane = document.querySelector('#messages').getBoundingClientRect();
      return document.querySelector('#history-state').getBoundingClientRect().top - pane.top;
    });
    assert.ok(top >= 0 && top < 40, `the beginning is ${top}px down`);
  });

  it('separates days: "Today", "Yesterday", a weekday, a date', async () => {
    const hue = await newPerson('Hue');
    await signup(hue);
    const ida = await restUser(server.url, 'Ida');
    await startDirect(hue, ida);
    await send(hue, 'today');
    await waitForMark(hue, 'today', 'sent');
    await post(ida, await openId(hue), ['also today']);
    await waitForTexts(hue, ['today', 'also today']);
    // One separator, above the first message.
    assert.deepEqual(await hue.page.$$eval('#message-list .separator.day', (n) => n.map((x) => x.textContent)), ['Today']);
    assert.equal(await hue.page.$eval('#message-list > li', (li) => li.classList.contains('day')), true);

    // The same conversation seen from a day later, on a second device.
    const later = await newPerson('HueLater');
    await later.context.clock.setFixedTime(new Date(Date.now() + 86_400_000));
    Object.assign(later, { username: hue.username, password: hue.password });
    await login(later);
    await later.page.waitForURL(/chat\.html/);
    await later.page.locator('.conversation-item', { hasText: 'Ida' }).click();
    await waitForTexts(later, ['today', 'also today']);
    assert.deepEqual(await later.page.$$eval('#message-list .separator.day', (n) => n.map((x) => x.textContent)), ['Yesterday']);

    // The rules on messages of several days, with the page's own clock and time zone.
    const labels = await hue.page.evaluate(async () => {
      const { layout } = await import(new URL('timeline.js', document.baseURI).href);
      const now = new Date(2026, 0, 8, 12, 0).getTime();
      const at = (day, hour, minute) => new Date(2026, 0, day, hour, minute).getTime();
      const items = layout(
        [
          { key: 'a', sender: 'x', at: at(7, 23, 58) },
          { key: 'b', sender: 'x', at: at(8, 0, 1) },
          { key: 'c', sender: 'x', at: at(8, 0, 3) },
          { key: 'd', sender: 'x', at: at(8, 9, 0) },
        ],
        { now },
      );
      const old = layout([{ key: 'e', sender: 'x', at: new Date(2025, 11, 20).getTime() }], { now });
      const week = layout([{ key: 'f', sender: 'x', at: at(5, 10, 0) }], { now });
      return {
        items: items.map((i) => (i.kind === 'day' ? i.label : `${i.entry.key}${i.continued ? '+' : ''}`)),
        old: old[0].label,
        week: week[0].label,
        weekday: new Intl.DateTimeFormat(undefined, { weekday: 'long' }).format(new Date(2026, 0, 5)),
      };
    });
    // A new day starts a new run; more than 5 minutes apart does too.
    assert.deepEqual(labels.items, ['Yesterday', 'a', 'Today', 'b', 'c+', 'd']);
    assert.equal(labels.week, labels.weekday);
    assert.match(labels.old, /20/);
    assert.match(labels.old, /2025/);
  });
});

describe('groups', () => {
  it('names the sender in list previews, and groups runs of one sender', async () => {
    const ivy = await newPerson('Ivy');
    await signup(ivy);
    const ivyId = (await sessionOf(ivy)).userId;
    // Ivy has no direct conversation with either of them.
    const gia = await restUser(server.url, 'Gia');
    const hal = await restUser(server.url, 'Hal');
    const group = await ok(server.url, 'POST', 'groups', {
      token: gia.token,
      body: { name: 'Lunch', member_ids: [hal.userId, ivyId] },
    });

    // Live: the first message makes the group appear, its sender named.
    await post(hal, group.group_id, ['hi all']);
    const preview = ivy.page.locator('.conversation-item', { hasText: 'Lunch' }).locator('.item-preview');
    await preview.filter({ hasText: 'Hal: hi all' }).waitFor({ timeout: 5_000 });
    await post(gia, group.group_id, ['welcome']);
    await preview.filter({ hasText: 'Gia: welcome' }).waitFor({ timeout: 5_000 });

    // From the list endpoint after a reload (a fresh page knows nobody).
    await post(hal, group.group_id, ['one', 'two', 'three']);
    await ivy.page.reload();
    await connected(ivy);
    assert.equal(await preview.textContent(), 'Hal: three');

    await ivy.page.locator('.conversation-item', { hasText: 'Lunch' }).click();
    await waitForTexts(ivy, ['hi all', 'welcome', 'one', 'two', 'three']);
    // Hal's three in a row: his name once, the bubbles closer together.
    const senders = await ivy.page.$$eval('#message-list .message', (nodes) =>
      nodes.map((n) => {
        const sender = n.querySelector('.sender');
        return sender && sender.checkVisibility() ? sender.textContent : '';
      }),
    );
    assert.deepEqual(senders, ['Hal', 'Gia', 'Hal', '', '']);
    const gaps = await ivy.page.$$eval('#message-list .message', (nodes) => {
      const box = nodes.map((n) => n.getBoundingClientRect());
      return { betweenRuns: box[2].top - box[1].bottom, withinRun: box[3].top - box[2].bottom };
    });
    assert.ok(gaps.withinRun < gaps.betweenRuns, `within a run ${gaps.withinRun}px, between runs ${gaps.betweenRuns}px`);
    await screenshot(ivy, 'polish-group-runs');
  });
});

describe('settings', () => {
  it('changes the display name, the email and the password, with errors next to their fields', async () => {
    const jo = await newPerson('Jo');
    await signup(jo);
    const kay = await restUser(server.url, 'Kay');

    await jo.page.click('#open-settings');
    await jo.page.waitForSelector('#settings:not([hidden])');
    assert.equal(await jo.page.inputValue('#settings-display-name'), 'Jo');
    assert.equal(await jo.page.textContent('#settings-email'), jo.email);

    // Display name: saved, said so, and shown at once.
    await jo.page.fill('#settings-display-name', 'Joanna');
    await jo.page.click('#profile-form button[type=submit]');
    await jo.page.waitForSelector('#profile-form .form-success:not(:empty)');
    assert.equal(await jo.page.textContent('#me-name'), 'Joanna');

    // Email: a wrong password, then a taken address, each next to its field.
    const email = jo.page.locator('#email-form');
    await jo.page.fill('#settings-email-new', 'new-' + jo.email);
    await jo.page.fill('#settings-email-password', 'wrong password 1!');
    await jo.page.click('#email-form button[type=submit]');
    await email.locator('[data-error-for="current_password"]:not(:empty)').waitFor();
    assert.equal(await jo.page.getAttribute('#settings-email-password', 'aria-invalid'), 'true');
    await jo.page.fill('#settings-email-new', kay.email);
    await jo.page.fill('#settings-email-password', jo.password);
    await jo.page.click('#email-form button[type=submit]');
    await email.locator('[data-error-for="email"]:not(:empty)').waitFor();
    assert.equal(await email.locator('[data-error-for="current_password"]').textContent(), '');
    await jo.page.fill('#settings-email-new', 'new-' + jo.email);
    await jo.page.fill('#settings-email-password', jo.password);
    await jo.page.click('#email-form button[type=submit]');
    await email.locator('.form-success:not(:empty)').waitFor();
    assert.equal(await jo.page.textContent('#settings-email'), 'new-' + jo.email);
    await screenshot(jo, 'polish-settings');

    // Password: a wrong current one, a weak new one, then a good one.
    const password = jo.page.locator('#password-form');
    await jo.page.fill('#settings-password-current', 'wrong password 1!');
    await jo.page.fill('#settings-password-new', 'brand new 2?');
    await jo.page.click('#password-form button[type=submit]');
    await password.locator('[data-error-for="current_password"]:not(:empty)').waitFor();
    await jo.page.fill('#settings-password-current', jo.password);
    await jo.page.fill('#settings-password-new', 'weak');
    await jo.page.click('#password-form button[type=submit]');
    await password.locator('[data-error-for="new_password"]:not(:empty)').waitFor();
    await jo.page.fill('#settings-password-new', 'brand new 2?');
    await jo.page.click('#password-form button[type=submit]');
    await password.locator('.form-success:not(:empty)').waitFor();
    assert.equal(await password.locator('[data-error-for="current_password"]').textContent(), '');

    // This session goes on; the next login needs the new password.
    await jo.page.click('#close-settings');
    await jo.page.waitForSelector('#settings', { state: 'hidden' });
    await logout(jo);
    await login(jo, 'brand new 2?');
    await jo.page.waitForURL(/chat\.html/);
    await connected(jo);
    assert.equal(await jo.page.textContent('#me-name'), 'Joanna');

    // Too many attempts: said at the foot of the form.
    const { accessToken } = await sessionOf(jo);
    for (let i = 0; i < 20; i++) {
      const { status } = await rest(server.url, 'PUT', 'users/me', {
        token: accessToken,
        body: { current_password: 'wrong password 1!', new_password: 'another one 3#' },
      });
      if (status === 429) break;
      assert.equal(status, 403);
    }
    await jo.page.click('#open-settings');
    await jo.page.fill('#settings-password-current', 'brand new 2?');
    await jo.page.fill('#settings-password-new', 'another one 3#');
    await jo.page.click('#password-form button[type=submit]');
    await password.locator('.form-error:not(:empty)').waitFor();
    assert.match(await password.locator('.form-error').textContent(), /too many/i);
  });
});
