// Search and moderation in the demo: message search opened at its result,
// blocking (the blocker's notice, the blocked side's refusal, the settings
// list), muting (out of the tab's count, not out of the list), who can post
// in a group, reporting a message, and the operators' admin view. Each
// person has their own Chromium context; people who only send are made over
// REST.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  assertQuietPages,
  badge,
  connected,
  launch,
  openConversation,
  person,
  screenshot,
  send,
  signup,
  startDirect,
  texts,
  waitForTexts,
} from '../lib/browser.mjs';
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

before(async () => {
  // `root` and `botmaker` hold the admin role; senders of 100 messages need a higher rate.
  server = await startServer({ CHAT_ADMIN_USERNAMES: 'root,botmaker', CHAT_MESSAGES_PER_MINUTE: '1000' });
  browser = await launch();
});

after(async () => {
  // Refused requests (a block, a revoked session) log errors on purpose.
  assertQuietPages(people);
  await browser?.close();
  await server?.dispose();
});

// ---------------------------------------------------------------- helpers

/** Sends `texts` one after the other from a REST user to a conversation; gives the stored messages. */
async function post(user, conversationId, texts) {
  const sent = [];
  for (const content of texts) {
    sent.push(await ok(server.url, 'POST', `conversations/${conversationId}/messages`, { token: user.token, body: { content } }));
  }
  return sent;
}

/** The direct conversation of REST user `user` with `other` (a username). */
async function directWith(user, other) {
  return (await ok(server.url, 'POST', `conversations/direct/${other}`, { token: user.token })).conversation_id;
}

/** The message node of `id` in `p`'s page. */
function messageAt(p, id) {
  return p.page.locator(`#message-list .message[data-message-id="${id}"]`);
}

/** The id of the message of the open conversation whose text is exactly `text`. */
async function idOf(p, text) {
  const handle = await p.page.waitForFunction(
    (t) =>
      [...document.querySelectorAll('#message-list .message[data-message-id]')].find(
        (li) => li.querySelector('.content')?.textContent === t,
      )?.dataset.messageId,
    text,
    { timeout: 10_000 },
  );
  return handle.jsonValue();
}

/** The actions `p` is offered on message `id` (hover, then "⋯"). */
async function actionsOn(p, id) {
  const node = messageAt(p, id);
  await node.hover();
  await node.locator('.more').click();
  const names = await node.locator('.actions [data-action]').evaluateAll((bs) => bs.map((b) => b.dataset.action));
  await p.page.keyboard.press('Escape');
  return names;
}

/** Goes back to the list (the back button is for phones; a click works at any width). */
function leave(p) {
  return p.page.evaluate(() => document.querySelector('#back').click());
}

/** Waits until element `selector` of `p`'s page holds exactly `text`. */
async function expectText(p, selector, text, timeout = 10_000) {
  try {
    await p.page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent.trim() === t, [selector, text], { timeout });
  } catch (err) {
    const shown = await p.page.evaluate((s) => document.querySelector(s)?.textContent.trim() ?? null, selector);
    throw new Error(`${p.name}'s ${selector} shows ${JSON.stringify(shown)}, expected ${JSON.stringify(text)}`, { cause: err });
  }
}

/** Waits until the tab's title is `title`. */
async function expectTitle(p, title) {
  try {
    await p.page.waitForFunction((t) => document.title === t, title, { timeout: 10_000 });
  } catch (err) {
    throw new Error(`${p.name}'s title is ${JSON.stringify(await p.page.title())}, expected ${JSON.stringify(title)}`, { cause: err });
  }
}

/** The search results shown: conversation, sender, snippet and its marked words. */
function results(p) {
  return p.page.$$eval('#message-result-list .message-result', (buttons) =>
    buttons.map((b) => ({
      id: b.dataset.messageId,
      conversation: b.querySelector('.result-conversation').textContent,
      sender: b.querySelector('.result-sender').textContent,
      snippet: b.querySelector('.result-snippet').textContent,
      marks: [...b.querySelectorAll('.result-snippet mark')].map((m) => m.textContent),
      elements: [...b.querySelectorAll('.result-snippet *')].map((n) => n.tagName.toLowerCase()),
    })),
  );
}

async function search(p, query) {
  await p.page.fill('#message-search', query);
  await p.page.press('#message-search', 'Enter');
}

// ---------------------------------------------------------------- tests

describe('search and moderation', () => {
  it('search: errors inline, words marked by their ranges, "More results", a result opens at its message', async () => {
    const ann = await newPerson('Ann');
    await signup(ann);
    const bob = await restUser(server.url, 'Bob');
    const cid = await directWith(bob, ann.username);
    // The target, then 100 more: it is neither in the first page of history
    // nor in a page around it that would reach the newest.
    const TARGET = '🎉 Party planning: lunch at noon <img src=x onerror=alert(1)>';
    const [target] = await post(bob, cid, [TARGET]);
    await post(bob, cid, Array.from({ length: 100 }, (_, i) => `filler ${i + 1}`));
    await ann.page.waitForSelector('.conversation-item .item-title:text("Bob")');

    // A query with no word, or too many, is refused: the reason shows under the box.
    await search(ann, '');
    await expectText(ann, '#message-search-error', 'The search query needs at least one word.');
    await search(ann, '!?*');
    await expectText(ann, '#message-search-error', 'The search query needs at least one word.');
    await search(ann, 'a b c d e f g h i j k');
    await expectText(ann, '#message-search-error', 'The search query may hold at most 10 words.');
    assert.equal(await ann.page.isVisible('#message-results'), false);

    // Found: the conversation, the sender, and the words marked (the ranges
    // count characters, so the emoji before them shifts nothing).
    await search(ann, 'NOON party');
    await ann.page.waitForSelector('#message-result-list .message-result');
    await expectText(ann, '#message-search-error', '');
    const [hit, ...rest_] = await results(ann);
    assert.equal(rest_.length, 0);
    assert.equal(hit.id, target.message_id);
    assert.equal(hit.conversation, 'Bob');
    assert.equal(hit.sender, 'Bob');
    assert.deepEqual(hit.marks, ['Party', 'noon']);
    assert.match(hit.snippet, /<img src=x onerror=alert\(1\)>/);
    assert.deepEqual(hit.elements, ['mark', 'mark']);
    // The results take the conversation list's place.
    assert.equal(await ann.page.isVisible('#conversations'), false);
    await screenshot(ann, 'search-results');

    // Opening it: the conversation, scrolled to the message, highlighted;
    // the newest messages are not loaded yet (a page around the message).
    await ann.page.click(`#message-result-list .message-result[data-message-id="${target.message_id}"]`);
    await ann.page.waitForFunction((t) => document.querySelector('#conversation-title').textContent === t, 'Bob');
    await ann.page.waitForSelector(`#message-list .message.highlight[data-message-id="${target.message_id}"]`);
    await until(
      () =>
        messageAt(ann, target.message_id).evaluate((li) => {
          const box = li.getBoundingClientRect();
          const pane = document.querySelector('#messages').getBoundingClientRect();
          return box.top >= pane.top && box.bottom <= pane.bottom;
        }),
      { what: 'the found message in view' },
    );
    let shown = await texts(ann);
    assert.equal(shown[0], TARGET);
    assert.ok(!shown.includes('filler 100'), 'the newest message is not loaded yet');
    assert.equal(await ann.page.isVisible('#newer-state'), true);
    await screenshot(ann, 'search-jump');
    await ann.page.waitForSelector('#message-list .message.highlight', { state: 'detached', timeout: 5_000 });

    // Scrolling down loads the newer messages, with no gap, up to the newest.
    await until(
      async () => {
        await ann.page.evaluate(() => {
          const s = document.querySelector('#messages');
          s.scrollTop = s.scrollHeight;
        });
        return (await texts(ann)).includes('filler 100');
      },
      { what: 'the newest message after scrolling down' },
    );
    shown = await texts(ann);
    assert.deepEqual(shown, [TARGET, ...Array.from({ length: 100 }, (_, i) => `filler ${i + 1}`)]);
    assert.equal(await ann.page.isVisible('#newer-state'), false);

    // Paging: 20 at a time, "More results" for the next 20.
    await search(ann, 'filler');
    await ann.page.waitForFunction(() => document.querySelectorAll('#message-result-list .message-result').length === 20);
    await expectText(ann, '#message-results-summary', '20+ messages with “filler”');
    await ann.page.click('#more-results');
    await ann.page.waitForFunction(() => document.querySelectorAll('#message-result-list .message-result').length === 40);
    const ids = (await results(ann)).map((r) => r.id);
    assert.equal(new Set(ids).size, 40);
    assert.ok((await results(ann)).every((r) => r.marks.join() === 'filler'));

    // Closing the results brings the list back.
    await ann.page.click('#close-results');
    await ann.page.waitForSelector('#conversations', { state: 'visible' });
  });

  it('search in one conversation: "Only in" the open one; only very common words come latest first there, refused everywhere', async () => {
    // A server where a word in more than 3 messages is too common to rank.
    const narrow = await startServer({ CHAT_SEARCH_COMMON_WORD_MESSAGES: '3' });
    const ann = await person(browser, narrow.url, 'Ann');
    people.push(ann);
    try {
      await signup(ann);
      const bob = await restUser(narrow.url, 'Bob');
      const carol = await restUser(narrow.url, 'Carol');
      const withBob = (await ok(narrow.url, 'POST', `conversations/direct/${ann.username}`, { token: bob.token })).conversation_id;
      const withCarol = (await ok(narrow.url, 'POST', `conversations/direct/${ann.username}`, { token: carol.token })).conversation_id;
      for (const content of ['the plan plan plan', 'the second', 'the third', 'the fourth']) {
        await ok(narrow.url, 'POST', `conversations/${withBob}/messages`, { token: bob.token, body: { content } });
      }
      await ok(narrow.url, 'POST', `conversations/${withCarol}/messages`, { token: carol.token, body: { content: 'the plan elsewhere' } });
      await ann.page.waitForSelector('.conversation-item .item-title:text("Carol")');
      assert.equal(await ann.page.isVisible('#message-search-here-label'), false, 'no conversation open: no "Only in"');

      // Across all conversations, "the" alone is refused, saying what works.
      await search(ann, 'the');
      await ann.page.waitForFunction(() => document.querySelector('#message-search-error').textContent.includes('too common'));
      await expectText(
        ann,
        '#message-search-error',
        'Every word of this search is too common to search all conversations; add a less common word, or search one conversation.',
      );
      // With a rarer word it ranks, across conversations: the best match first.
      await search(ann, 'the plan');
      await expectText(ann, '#message-results-summary', '2 messages with “the plan”');
      assert.deepEqual((await results(ann)).map((r) => r.snippet), ['the plan plan plan', 'the plan elsewhere']);

      // In the open conversation: latest first, said so.
      await ann.page.click('#close-results');
      await openConversation(ann, 'Bob');
      await expectText(ann, '#message-search-here-name', 'Bob');
      await ann.page.check('#message-search-here');
      await search(ann, 'the');
      await expectText(ann, '#message-results-summary', '4 messages with “the” in Bob, latest first');
      await expectText(ann, '#message-search-error', '');
      assert.deepEqual(
        (await results(ann)).map((r) => r.snippet),
        ['the fourth', 'the third', 'the second', 'the plan plan plan'],
      );
      await screenshot(ann, 'search-one-conversation');
      // Unticking searches everywhere again: refused.
      await ann.page.uncheck('#message-search-here');
      await ann.page.waitForFunction(() => document.querySelector('#message-search-error').textContent.includes('too common'));
      await leave(ann);
      await ann.page.waitForSelector('#message-search-here-label', { state: 'hidden' });
    } finally {
      // The page first: its socket would log the server's going away.
      await ann.page.context().close();
      await narrow.dispose();
    }
  });

  it('block: a notice instead of the composer, the other side refused, unblock from the header or the settings', async () => {
    const ann = await newPerson('Ann');
    const bob = await newPerson('Bob');
    await signup(ann);
    await signup(bob);
    await startDirect(ann, bob);
    await send(ann, 'hi bob');
    await bob.page.waitForSelector('.conversation-item');
    await openConversation(bob, 'Ann');
    await waitForTexts(bob, ['hi bob']);

    // Ann blocks Bob (after confirming): the composer gives way to a notice.
    await expectText(ann, '#block-toggle', 'Block');
    await ann.page.click('#block-toggle');
    await expectText(ann, '#confirm-title', 'Block Bob?');
    await ann.page.click('#confirm-ok');
    await expectText(ann, '#composer-notice-text', 'You blocked Bob. Unblock them to send messages.');
    assert.equal(await ann.page.isVisible('#composer'), false);
    assert.equal(await ann.page.isVisible('#composer-unblock'), true);
    await expectText(ann, '#block-toggle', 'Unblock');
    await expectText(ann, '#conversation-subtitle', 'blocked');
    await screenshot(ann, 'blocked');

    // Bob's send is refused with the server's words, under the message and the composer.
    await send(bob, 'are you there?');
    await bob.page.waitForSelector('#message-list .message.failed');
    await expectText(bob, '#message-list .message.failed .send-error', 'Not sent: this user is not accepting your messages');
    await expectText(bob, '#composer-error', 'This user is not accepting your messages.');
    await screenshot(bob, 'refused-by-block');
    assert.deepEqual(await texts(ann), ['hi bob']);

    // The block is the server's: a reload shows it, and finding Bob opens the conversation with it.
    await ann.page.reload();
    await connected(ann);
    await ann.page.waitForSelector('#composer-notice:not([hidden])');
    await leave(ann);
    await ann.page.fill('#user-search', bob.username);
    await ann.page.click(`#search-results .user-result[data-username="${bob.username}"]`);
    await expectText(ann, '#composer-notice-text', 'You blocked Bob. Unblock them to send messages.');

    // Unblock in the notice: the composer is back.
    await ann.page.click('#composer-unblock');
    await ann.page.waitForSelector('#composer', { state: 'visible' });
    assert.equal(await ann.page.isVisible('#composer-notice'), false);

    // Blocked again from the header, and unblocked from the settings' list.
    await ann.page.click('#block-toggle');
    await ann.page.click('#confirm-ok');
    await ann.page.waitForSelector('#composer-notice:not([hidden])');
    await ann.page.click('#open-settings');
    const entry = ann.page.locator(`#blocked-users li[data-username="${bob.username}"]`);
    await entry.waitFor();
    assert.match(await entry.textContent(), /Bob/);
    assert.equal(await ann.page.isVisible('#no-blocks'), false);
    await screenshot(ann, 'blocked-users');
    await entry.locator('button', { hasText: 'Unblock' }).click();
    await entry.waitFor({ state: 'detached' });
    assert.equal(await ann.page.isVisible('#no-blocks'), true);

    await openConversation(ann, 'Bob');
    await ann.page.waitForSelector('#composer', { state: 'visible' });
    await send(bob, 'back again');
    await waitForTexts(ann, ['hi bob', 'back again']);
    await send(ann, 'welcome back');
    // Bob's refused message stays below, marked not sent; it was never stored.
    await waitForTexts(bob, ['hi bob', 'back again', 'welcome back', 'are you there?']);
    assert.equal(await bob.page.textContent('#message-list .message:last-child .send-error'), 'Not sent: this user is not accepting your messages');
  });

  it('mute: the list keeps the count and shows the mute, the tab title and icon leave it out', async () => {
    const ann = await newPerson('Ann');
    await signup(ann);
    const bob = await restUser(server.url, 'Bob');
    const cid = await restUser(server.url, 'Cid');
    const withBob = await directWith(bob, ann.username);
    const withCid = await directWith(cid, ann.username);
    await post(cid, withCid, ['c1']);
    await ann.page.waitForSelector('.conversation-item .item-title:text("Cid")');

    // Ann mutes Cid and goes back to the list, so nothing more is read.
    await openConversation(ann, 'Cid');
    await expectText(ann, '#mute-toggle', 'Mute');
    await ann.page.click('#mute-toggle');
    await expectText(ann, '#mute-toggle', 'Unmute');
    assert.equal(await ann.page.getAttribute('#mute-toggle', 'aria-pressed'), 'true');
    const cidItem = ann.page.locator('.conversation-item', { has: ann.page.locator('.item-title', { hasText: 'Cid' }) });
    await cidItem.locator('.muted-icon').waitFor();
    await leave(ann);

    await post(bob, withBob, ['b1', 'b2']);
    await post(cid, withCid, ['c2', 'c3', 'c4']);
    await until(async () => (await badge(ann, 'Cid')) === '3', { what: "Cid's unread count" });
    await until(async () => (await badge(ann, 'Bob')) === '2', { what: "Bob's unread count" });
    // 2, not 5: Cid's 3 are counted in the list only.
    await expectTitle(ann, '(2) Chat');
    const icon = await ann.page.getAttribute('link[rel="icon"]', 'href');
    assert.ok(decodeURIComponent(icon).includes('>2</text>'), 'the favicon shows 2');
    assert.equal(await cidItem.locator('.muted-icon').getAttribute('aria-label'), 'Muted');
    await screenshot(ann, 'muted');

    // Kept by the server: still muted after a reload.
    await ann.page.reload();
    await connected(ann);
    await cidItem.locator('.muted-icon').waitFor();
    await expectTitle(ann, '(2) Chat');

    // Unmuted, Cid's messages count in the tab again.
    await openConversation(ann, 'Cid');
    await ann.page.click('#mute-toggle');
    await expectText(ann, '#mute-toggle', 'Mute');
    await cidItem.locator('.muted-icon').waitFor({ state: 'detached' });
    await leave(ann);
    await post(cid, withCid, ['c5']);
    await expectTitle(ann, '(3) Chat');
  });

  it('posting policy: the owner lets only admins post; a member sees a notice instead of the composer', async () => {
    const ann = await newPerson('Ann');
    const bob = await newPerson('Bob');
    await signup(ann);
    await signup(bob);
    const owner = { token: (await sessionOf(ann)).accessToken };
    const bobId = (await sessionOf(bob)).userId;
    const group = await ok(server.url, 'POST', 'groups', { token: owner.token, body: { name: 'Announcements', member_ids: [bobId] } });
    await post(owner, group.group_id, ['welcome']);
    for (const p of [ann, bob]) {
      await p.page.waitForSelector('.conversation-item .item-title:text("Announcements")');
      await openConversation(p, 'Announcements');
      await waitForTexts(p, ['welcome']);
    }

    // A member has no say in it.
    await bob.page.click('#show-members');
    await bob.page.waitForSelector('#members .member');
    assert.equal(await bob.page.isVisible('#posting'), false);
    assert.equal(await bob.page.isVisible('#posting-note'), false);
    await bob.page.click('#close-members');

    // The owner chooses "Owner and admins".
    await ann.page.click('#show-members');
    await ann.page.waitForSelector('#posting', { state: 'visible' });
    assert.equal(await ann.page.isChecked('#posting input[value="everyone"]'), true);
    await ann.page.check('#posting input[value="admins"]');
    await until(async () => (await ok(server.url, 'GET', `groups/${group.group_id}`, { token: owner.token })).posting === 'admins', {
      what: 'the policy stored',
    });
    assert.equal(await ann.page.isChecked('#posting input[value="admins"]'), true);
    await screenshot(ann, 'posting-policy');

    // Bob's page has not heard of it: his send is refused, and the notice replaces the composer.
    await send(bob, 'can I still talk?');
    await expectText(bob, '#message-list .message.failed .send-error', "Not sent: only the group's owner and admins can post here");
    await expectText(bob, '#composer-notice-text', 'Only admins can post in this group.');
    assert.equal(await bob.page.isVisible('#composer'), false);
    assert.equal(await bob.page.isVisible('#composer-unblock'), false);

    // After a reload it is there from the start, and the members panel says so.
    await bob.page.reload();
    await connected(bob);
    await bob.page.waitForSelector('#composer-notice:not([hidden])');
    await expectText(bob, '#composer-notice-text', 'Only admins can post in this group.');
    await bob.page.click('#show-members');
    await bob.page.waitForSelector('#posting-note', { state: 'visible' });
    await screenshot(bob, 'posting-restricted');
    await bob.page.click('#close-members');

    // The owner still posts.
    await send(ann, 'admins only from now on');
    await waitForTexts(bob, ['welcome', 'admins only from now on']);

    // Back to everyone: Bob's composer returns when his page next looks (a reload here).
    await ann.page.check('#posting input[value="everyone"]');
    await until(async () => (await ok(server.url, 'GET', `groups/${group.group_id}`, { token: owner.token })).posting === 'everyone', {
      what: 'the policy stored',
    });
    await bob.page.reload();
    await connected(bob);
    await bob.page.waitForSelector('#composer', { state: 'visible' });
    await send(bob, 'thanks');
    await waitForTexts(ann, ['welcome', 'admins only from now on', 'thanks']);
  });

  it('bots: "BOT" beside a bot\'s name in a group and its member list, "bot" under a direct conversation\'s title', async () => {
    const ann = await newPerson('Ann');
    await signup(ann);
    const session = await sessionOf(ann);
    const maker = await ok(server.url, 'POST', 'auth/signup', {
      body: { username: 'botmaker', email: 'botmaker@example.com', password: 's3cret!pass' },
    });
    const bot = await ok(server.url, 'POST', 'admin/bots', {
      token: maker.access_token,
      body: { username: `deploybot${Math.random().toString(36).slice(2, 8)}`, display_name: 'Deploy Bot' },
    });
    assert.equal(bot.is_bot, true);
    const group = await ok(server.url, 'POST', 'groups', {
      token: session.accessToken,
      body: { name: 'Ops', member_ids: [bot.user_id] },
    });
    await ok(server.url, 'POST', `groups/${group.group_id}/messages`, { token: bot.token, body: { content: 'deploy finished' } });
    await ann.page.waitForSelector('.conversation-item .item-title:text("Ops")');
    await openConversation(ann, 'Ops');
    await waitForTexts(ann, ['deploy finished']);
    await send(ann, 'thanks, bot');
    await waitForTexts(ann, ['deploy finished', 'thanks, bot']);
    const sender = ann.page.locator('#message-list .message .sender');
    await sender.locator('.bot-badge').waitFor();
    assert.equal(await sender.textContent(), 'Deploy BotBOT', 'one sender name, the bot\'s, with its badge');
    await ann.page.click('#show-members');
    await ann.page.locator(`#members .member[data-user-id="${bot.user_id}"] .bot-badge`).waitFor();
    assert.equal(await ann.page.locator('#members .bot-badge').count(), 1, 'people get no badge');
    await screenshot(ann, 'bot-in-group');
    await ann.page.click('#close-members');

    await ok(server.url, 'POST', 'messages/send', {
      token: bot.token,
      body: { recipient_id: session.userId, content: 'your build is green' },
    });
    await ann.page.waitForSelector('.conversation-item .item-title:text("Deploy Bot")');
    await openConversation(ann, 'Deploy Bot');
    await waitForTexts(ann, ['your build is green']);
    await expectText(ann, '#conversation-subtitle', 'bot');
  });

  /** Shared by the report and admin tests: the people and the reported message. */
  const reported = {};

  it('report: offered on others\' messages only, with an optional reason; a toast confirms', async () => {
    const ann = await newPerson('Ann');
    await signup(ann);
    const bob = await restUser(server.url, 'Bob');
    const cid = await directWith(bob, ann.username);
    const [spam] = await post(bob, cid, ['Cheap watches at spam.example!!!']);
    await ann.page.waitForSelector('.conversation-item .item-title:text("Bob")');
    await openConversation(ann, 'Bob');
    await send(ann, 'no thanks');
    const mine = await idOf(ann, 'no thanks');

    assert.ok(!(await actionsOn(ann, mine)).includes('report'), 'no Report on one\'s own message');
    assert.ok((await actionsOn(ann, spam.message_id)).includes('report'));

    // Report, with a reason.
    const node = messageAt(ann, spam.message_id);
    await node.hover();
    await node.locator('.more').click();
    await node.locator('.actions [data-action="report"]').click();
    await ann.page.waitForSelector('#report-dialog[open]');
    await expectText(ann, '#report-sender', 'Bob');
    await expectText(ann, '#report-excerpt', 'Cheap watches at spam.example!!!');
    await ann.page.fill('#report-reason', 'spam, sent to everyone');
    await screenshot(ann, 'report-dialog');
    await ann.page.click('#report-send');
    await expectText(ann, '#toast', 'Thanks. The message was reported to the operators.');

    // Again: the first report stands.
    await node.hover();
    await node.locator('.more').click();
    await node.locator('.actions [data-action="report"]').click();
    await ann.page.click('#report-send');
    await expectText(ann, '#toast', 'You had already reported this message.');

    assert.equal(await ann.page.isVisible('#open-admin'), false, 'no Admin view for a plain user');
    Object.assign(reported, { ann, bob, spam, conversation: cid });
  });

  it('admin: reports listed, message deleted and report resolved; accounts found, deactivated, reactivated, signed out', async () => {
    const { ann, bob, spam } = reported;
    assert.ok(spam, 'the report test ran first');
    const root = await newPerson('Root');
    root.username = 'root';
    root.email = 'root@example.com';
    await signup(root);

    // The operator's view lists the open report: content, sender, reporter, reason.
    await root.page.waitForSelector('#open-admin', { state: 'visible' });
    await root.page.click('#open-admin');
    const report = root.page.locator(`#reports .report[data-message-id="${spam.message_id}"]`);
    await report.waitFor();
    assert.equal(await report.locator('.report-content').textContent(), 'Cheap watches at spam.example!!!');
    assert.equal(await report.locator('.report-sender').textContent(), `Sent by Bob (@${bob.username})`);
    assert.equal(await report.locator('.report-reporter').textContent(), `reported by Ann (@${ann.username})`);
    assert.equal(await report.locator('.report-reason').textContent(), 'Reason: spam, sent to everyone');
    await screenshot(root, 'admin-reports');

    // Delete message: gone for Ann, live; the report keeps its copy.
    await report.locator('[data-action="delete-message"]').click();
    await root.page.click('#confirm-ok');
    await report.locator('.form-success', { hasText: 'Message deleted.' }).waitFor();
    await ann.page.waitForSelector(`#message-list .message.deleted[data-message-id="${spam.message_id}"]`);

    // Resolve: out of the open reports, into the resolved ones.
    await report.locator('[data-action="resolve"]').click();
    await report.waitFor({ state: 'detached' });
    await expectText(root, '#no-reports', 'No open reports.');
    await root.page.selectOption('#report-status', 'resolved');
    await report.waitFor();
    assert.match(await report.textContent(), /Resolved .* by Root \(@root\)/);

    // Accounts: Bob found, deactivated (his token stops working), left out
    // unless deactivated accounts are asked for, then reactivated.
    await root.page.fill('#admin-user-q', bob.username);
    const account = root.page.locator(`#admin-users .admin-user[data-username="${bob.username}"]`);
    // Bob is already in the unfiltered list: wait for the search's answer
    // (his row alone), or it lands after the deactivation and, leaving out
    // deactivated accounts, takes his row away.
    await root.page.waitForFunction(() => document.querySelectorAll('#admin-users .admin-user').length === 1);
    await account.waitFor();
    assert.match(await account.textContent(), new RegExp(bob.email));
    await account.locator('[data-action="deactivate"]').click();
    await root.page.click('#confirm-ok');
    await account.locator('[data-action="reactivate"]').waitFor();
    await expectText(root, `#admin-users .admin-user[data-username="${bob.username}"] .account-state`, 'Deactivated');
    assert.equal((await rest(server.url, 'GET', 'auth/me', { token: bob.token })).status, 401);
    const refused = await rest(server.url, 'POST', 'auth/login', { body: { username: bob.username, password: bob.password } });
    assert.notEqual(refused.status, 200);
    await screenshot(root, 'admin-accounts');
    await root.page.fill('#admin-user-q', bob.username.slice(0, -1));
    await account.waitFor({ state: 'detached' });
    await root.page.check('#admin-include-inactive');
    await account.waitFor();
    await account.locator('[data-action="reactivate"]').click();
    await account.locator('[data-action="deactivate"]').waitFor();
    assert.equal((await rest(server.url, 'POST', 'auth/login', { body: { username: bob.username, password: bob.password } })).status, 200);

    // An admin does not deactivate or sign out themself from here.
    await root.page.uncheck('#admin-include-inactive');
    await root.page.fill('#admin-user-q', 'root');
    const self = root.page.locator('#admin-users .admin-user[data-username="root"]');
    await self.waitFor();
    assert.equal(await self.locator('button').count(), 0);

    // Sign out everywhere: Ann's page ends up at the login form.
    await root.page.fill('#admin-user-q', ann.username);
    const annAccount = root.page.locator(`#admin-users .admin-user[data-username="${ann.username}"]`);
    await annAccount.locator('[data-action="sign-out"]').click();
    await root.page.click('#confirm-ok');
    await annAccount.locator('.form-success', { hasText: 'Signed out everywhere.' }).waitFor();
    await ann.page.waitForSelector('#login-form:not([hidden])', { timeout: 15_000 });

    // Plain users are refused by the API itself, whatever the page shows.
    const other = await restUser(server.url, 'Dan');
    assert.equal((await rest(server.url, 'GET', 'admin/reports', { token: other.token })).status, 403);
  });
});
