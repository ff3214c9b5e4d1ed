// The browser demo, end to end: a real chat-server (embedded SQLite) on a
// free port, and two or three users, each in their own Chromium context.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  badge,
  connected,
  launch,
  login,
  logout,
  openConversation,
  person,
  screenshot,
  send,
  signup,
  startDirect,
  texts,
  waitForMark,
  waitForTexts,
} from '../lib/browser.mjs';
import { ok, until } from '../lib/rest.mjs';
import { startServer } from '../lib/server.mjs';

let server;
let browser;
const people = [];

async function newPerson(name, viewport) {
  const p = await person(browser, server.url, name, viewport);
  people.push(p);
  return p;
}

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  for (const p of people) {
    // No page may have thrown or logged an error, and nothing may have run
    // a dialog (the XSS probe would).
    assert.deepEqual(p.dialogs, [], `${p.name} saw dialogs`);
    assert.deepEqual(
      // (Refused requests log "Failed to load resource"; the tests cause those on purpose.)
      p.errors.filter((e) => !e.includes('Failed to load resource') && !e.includes('ERR_INTERNET_DISCONNECTED')),
      [],
      `${p.name}'s page reported errors`,
    );
  }
  await browser?.close();
  await server?.dispose();
});

describe('accounts', () => {
  it('signs up, logs out, logs in; a wrong password shows an error', async () => {
    const ann = await newPerson('Ann');
    await ann.page.goto(server.url + '/');
    await screenshot(ann, 'login');

    // The password rules are shown and checked before submitting.
    await ann.page.click('#tab-signup');
    await ann.page.fill('#signup-password', 'short');
    assert.equal(await ann.page.locator('#signup-rules [data-rule="length"].met').count(), 0);
    await ann.page.fill('#signup-password', 'long enough 1!');
    assert.equal(await ann.page.locator('#signup-rules li.met').count(), 3);
    await screenshot(ann, 'signup');

    // An error from the API appears next to its field.
    await ann.page.fill('#signup-username', 'a b');
    await ann.page.fill('#signup-email', ann.email);
    await ann.page.click('#signup-form button[type=submit]');
    await ann.page.waitForSelector('#signup-form [data-error-for="username"]:not(:empty)');
    assert.equal(await ann.page.getAttribute('#signup-username', 'aria-invalid'), 'true');

    await signup(ann);
    assert.equal(await ann.page.textContent('#me-name'), 'Ann');
    await logout(ann);

    await login(ann, 'not the password 1!');
    await ann.page.waitForSelector('#login-form .form-error:not(:empty)');
    assert.match(await ann.page.textContent('#login-form .form-error'), /wrong username or password/i);

    await login(ann);
    await ann.page.waitForURL(/chat\.html/);
    await connected(ann);
    assert.equal(await ann.page.textContent('#me-name'), 'Ann');

    // A second signup with the same username is refused next to the field.
    const copy = await newPerson('Copy');
    copy.username = ann.username;
    await copy.page.goto(server.url + '/');
    await copy.page.click('#tab-signup');
    await copy.page.fill('#signup-username', ann.username);
    await copy.page.fill('#signup-email', 'other-' + ann.email);
    await copy.page.fill('#signup-password', copy.password);
    await copy.page.click('#signup-form button[type=submit]');
    await copy.page.waitForSelector('#signup-form [data-error-for="username"]:not(:empty)');
    await copy.context.close();
  });

  it('resets a forgotten password with the emailed link', async () => {
    const dan = await newPerson('Dan');
    await signup(dan);
    await logout(dan);
    await dan.page.click('#show-forgot');
    await dan.page.fill('#forgot-email', dan.email);
    await dan.page.click('#forgot-form button[type=submit]');
    await dan.page.waitForSelector('#auth-notice:not([hidden])');
    assert.match(await dan.page.textContent('#auth-notice'), /reset link/);

    const link = await server.resetLink(dan.email);
    await dan.page.goto(link);
    await dan.page.waitForSelector('#reset-form:not([hidden])');
    // The token leaves the address bar at once.
    assert.ok(!dan.page.url().includes('reset-token'));
    await dan.page.fill('#reset-password', 'weak');
    await dan.page.click('#reset-form button[type=submit]');
    await dan.page.waitForSelector('#reset-form [data-error-for="new_password"]:not(:empty)');
    await dan.page.fill('#reset-password', 'brand new 2?');
    await dan.page.click('#reset-form button[type=submit]');
    await dan.page.waitForSelector('#login-form:not([hidden])');
    assert.match(await dan.page.textContent('#auth-notice'), /password has been changed/i);

    await login(dan);
    await dan.page.waitForSelector('#login-form .form-error:not(:empty)');
    await login(dan, 'brand new 2?');
    await dan.page.waitForURL(/chat\.html/);
    await connected(dan);
  });
});

describe('direct conversations', () => {
  let amy;
  let ben;

  before(async () => {
    amy = await newPerson('Amy');
    ben = await newPerson('Ben');
    await signup(amy);
    await signup(ben);
  });

  it('exchanges messages live both ways, with typing, delivered and read', async () => {
    await startDirect(amy, ben);
    await send(amy, 'Hi Ben');
    await waitForMark(amy, 'Hi Ben', 'sent').catch(() => {});

    // Ben's list shows the new conversation with one unread message. His
    // device has it, so Amy sees "delivered" before Ben reads it.
    await ben.page.waitForSelector(`.conversation-item .item-title:text("Amy")`);
    assert.equal(await badge(ben, 'Amy'), '1');
    await waitForMark(amy, 'Hi Ben', 'delivered');

    // Opening the conversation reads it.
    await openConversation(ben, 'Amy');
    await waitForTexts(ben, ['Hi Ben']);
    await waitForMark(amy, 'Hi Ben', 'read');
    await amy.page.waitForFunction(() => document.querySelector('.message.mine .receipt')?.textContent === 'Read');

    // Typing shows on the other side and goes when the message is sent.
    await ben.page.type('#message-input', 'Hello Amy,');
    await amy.page.waitForFunction(() => /is typing/.test(document.querySelector('#typing').textContent));
    assert.match(await amy.page.textContent('#typing'), /Ben is typing/);
    // Shift+Enter breaks the line, Enter sends.
    await ben.page.keyboard.press('Shift+Enter');
    await ben.page.type('#message-input', 'how are you?');
    await ben.page.keyboard.press('Enter');
    await waitForTexts(amy, ['Hi Ben', 'Hello Amy,\nhow are you?']);
    await amy.page.waitForFunction(() => document.querySelector('#typing').textContent === '');
    await waitForMark(ben, 'Hello Amy,\nhow are you?', 'read');

    await send(amy, 'Fine, thanks');
    await waitForTexts(ben, ['Hi Ben', 'Hello Amy,\nhow are you?', 'Fine, thanks']);
    await waitForTexts(amy, ['Hi Ben', 'Hello Amy,\nhow are you?', 'Fine, thanks']);
    // Online dot for a direct peer.
    await amy.page.waitForSelector('.conversation-item .dot.online');
    await screenshot(amy, 'chat');
  });

  it('keeps history and unread counts across a reload', async () => {
    // Ben has read everything; he leaves the conversation and Amy writes twice.
    await waitForMark(amy, 'Fine, thanks', 'read');
    // (The back button is for phones; a click works at any width.)
    await ben.page.evaluate(() => document.querySelector('#back').click());
    await send(amy, 'one');
    await send(amy, 'two');
    await ben.page.waitForFunction(() => document.querySelector('.conversation-item .badge')?.textContent === '2');

    await ben.page.reload();
    await connected(ben);
    assert.equal(await badge(ben, 'Amy'), '2');
    await openConversation(ben, 'Amy');
    await waitForTexts(ben, ['Hi Ben', 'Hello Amy,\nhow are you?', 'Fine, thanks', 'one', 'two']);
    await ben.page.waitForFunction(() => !document.querySelector('.conversation-item .badge'));

    // Amy reloads with the conversation open: it reopens, marks intact.
    await amy.page.reload();
    await connected(amy);
    await waitForTexts(amy, ['Hi Ben', 'Hello Amy,\nhow are you?', 'Fine, thanks', 'one', 'two']);
    await waitForMark(amy, 'two', 'read');
  });

  it('delivers what was sent while a browser was offline, once and in order', async () => {
    await ben.context.setOffline(true);
    await ben.page.waitForSelector('#connection[data-state="offline"]');
    for (const text of ['while', 'you', 'were away']) await send(amy, text);
    await waitForMark(amy, 'were away', 'sent');
    // Ben writes while offline: kept, marked as sending.
    await send(ben, 'typed offline');
    await waitForMark(ben, 'typed offline', 'pending');

    await ben.context.setOffline(false);
    await connected(ben);
    const all = ['Hi Ben', 'Hello Amy,\nhow are you?', 'Fine, thanks', 'one', 'two', 'while', 'you', 'were away', 'typed offline'];
    await waitForTexts(ben, all);
    await waitForTexts(amy, all);
    await waitForMark(ben, 'typed offline', 'read');
    // Nothing arrives twice later on.
    await ben.page.waitForTimeout(500);
    assert.deepEqual(await texts(ben), all);
    assert.deepEqual(await texts(amy), all);
  });

  it('shows markup as text and runs nothing', async () => {
    const probe = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    await send(amy, probe);
    await ben.page.waitForFunction((t) => [...document.querySelectorAll('.content')].some((n) => n.textContent === t), probe);
    assert.equal(await ben.page.locator('#message-list img, #message-list script').count(), 0);
    // The conversation list redraws its preview after the message list does.
    const preview = ben.page.locator('.conversation-item .item-preview', { hasText: '<img src=x' });
    await preview.first().waitFor();
    assert.equal(await preview.count(), 1);
    await ben.page.waitForTimeout(300);
    assert.deepEqual(ben.dialogs, []);
  });

  it('loads older history when scrolled up', async () => {
    // 70 more messages over REST, so the first page (50) leaves some out.
    const token = await ben.page.evaluate(() => JSON.parse(sessionStorage.getItem('chat.session')).accessToken);
    const conversationId = await ben.page.evaluate(() => new URLSearchParams(location.hash.slice(1)).get('c'));
    for (let i = 1; i <= 70; i++) {
      const res = await fetch(`${server.url}/api/v1/conversations/${conversationId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
        body: JSON.stringify({ content: `bulk ${i}` }),
      });
      assert.equal(res.status, 201);
    }
    // Amy, with the conversation open, reads them as they arrive. Once she
    // has read them all, reopening starts from the newest page (unread ones
    // would open at the "New messages" divider, loading back to it).
    const amyToken = await amy.page.evaluate(() => JSON.parse(sessionStorage.getItem('chat.session')).accessToken);
    await until(
      async () =>
        (await ok(server.url, 'GET', `conversations/${conversationId}`, { token: amyToken })).unread_count === 0,
      { what: 'Amy to read the 70 messages' },
    );
    await amy.page.reload();
    await connected(amy);
    // The first page holds the newest 50; scrolling up fetches the rest.
    await amy.page.waitForFunction(() => document.querySelectorAll('#message-list .message').length >= 50);
    assert.match(await amy.page.textContent('#history-state'), /scroll up/i);
    await amy.page.waitForFunction(() => {
      document.querySelector('#messages').scrollTop = 0;
      return document.querySelector('#message-list .content').textContent === 'Hi Ben';
    });
    const all = await texts(amy);
    assert.equal(all.length, 80);
    assert.equal(new Set(all).size, 80);
    assert.equal((await texts(amy))[0], 'Hi Ben');
    assert.equal((await texts(amy)).at(-1), 'bulk 70');
  });
});

describe('groups', () => {
  it('creates a group of three, delivers to all, and stops after a removal', async () => {
    const gia = await newPerson('Gia');
    const hal = await newPerson('Hal');
    const ivy = await newPerson('Ivy');
    for (const p of [gia, hal, ivy]) await signup(p);

    await gia.page.click('#new-group');
    await gia.page.fill('#group-name', 'Team');
    for (const other of [hal, ivy]) {
      await gia.page.fill('#group-member-search', other.username);
      await gia.page.click(`#group-member-results .user-result[data-username="${other.username}"]`);
    }
    assert.equal(await gia.page.locator('#group-chips .chip').count(), 2);
    await screenshot(gia, 'new-group');
    await gia.page.click('#group-create');
    await gia.page.waitForFunction(() => document.querySelector('#conversation-title').textContent === 'Team');
    await send(gia, 'hello team');

    for (const p of [hal, ivy]) {
      await p.page.waitForSelector('.conversation-item .item-title:text("Team")');
      await openConversation(p, 'Team');
      await waitForTexts(p, ['hello team']);
    }
    await send(hal, 'hi from Hal');
    await waitForTexts(gia, ['hello team', 'hi from Hal']);
    await waitForTexts(ivy, ['hello team', 'hi from Hal']);
    // Group messages name their sender; "seen by" lists who read.
    assert.equal(await ivy.page.locator('.message.theirs .sender').first().textContent(), 'Gia');
    await send(gia, 'seen?');
    await gia.page.waitForFunction(() => /Seen by (Hal, Ivy|Ivy, Hal)/.test(document.querySelector('.receipt')?.textContent || ''));
    await waitForMark(gia, 'seen?', 'read');
    await screenshot(gia, 'group');

    // Gia removes Ivy, who stops receiving.
    await gia.page.click('#show-members');
    await gia.page.waitForSelector(`#members .member[data-username="${ivy.username}"]`);
    await screenshot(gia, 'members');
    await gia.page.click(`#members .member[data-username="${ivy.username}"] button.danger`);
    await gia.page.waitForFunction(
      (u) => !document.querySelector(`#members .member[data-username="${u}"]`),
      ivy.username,
    );
    await send(gia, 'after removal');
    await waitForTexts(hal, ['hello team', 'hi from Hal', 'seen?', 'after removal']);
    await ivy.page.waitForTimeout(700);
    assert.deepEqual(await texts(ivy), ['hello team', 'hi from Hal', 'seen?']);

    // Ivy's own send is refused and shown as not sent.
    await send(ivy, 'still there?');
    await ivy.page.waitForSelector('.message.failed .send-error:not(:empty)');
    await waitForTexts(gia, ['hello team', 'hi from Hal', 'seen?', 'after removal']);
  });
});

describe('phone width', () => {
  it('shows the list, then the conversation with a way back', async () => {
    const kim = await newPerson('Kim', { width: 390, height: 780 });
    const lou = await newPerson('Lou', { width: 390, height: 780 });
    await signup(kim);
    await signup(lou);
    await startDirect(kim, lou);
    assert.equal(await kim.page.isVisible('.sidebar'), false);
    await send(kim, 'small screens too');
    await lou.page.waitForSelector('.conversation-item');
    await openConversation(lou, 'Kim');
    await waitForTexts(lou, ['small screens too']);
    await screenshot(lou, 'phone-chat');
    await lou.page.click('#back');
    assert.equal(await lou.page.isVisible('.sidebar'), true);
    assert.equal(await lou.page.isVisible('#conversation'), false);
    await screenshot(lou, 'phone-list');
  });
});
