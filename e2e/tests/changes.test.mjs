// Messages that live: replies, reactions, edits, deletions and mentions in
// the demo, beside Slack, WhatsApp Web and Element. Three people in a group
// and two in a direct conversation, each in their own Chromium context;
// every change made on one side shows on the others live, after a catch-up,
// and after logging in again.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { connected, launch, login, logout, openConversation, person, screenshot, send, signup, startDirect, waitForTexts } from '../lib/browser.mjs';
import { ok, restUser, sessionOf, until } from '../lib/rest.mjs';
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
    assert.deepEqual(p.dialogs, [], `${p.name} saw dialogs`);
    assert.deepEqual(
      // Refused requests log "Failed to load resource"; the tests cause some on purpose.
      p.errors.filter((e) => !e.includes('Failed to load resource') && !e.includes('ERR_INTERNET_DISCONNECTED')),
      [],
      `${p.name}'s page reported errors`,
    );
  }
  await browser?.close();
  await server?.dispose();
});

// ---------------------------------------------------------------- helpers

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

/** What `p` shows of message `id`: text, quote, "(edited)", tombstone, reactions, mentions, actions. */
function describe_(p, id) {
  return p.page.evaluate((messageId) => {
    const li = [...document.querySelectorAll('#message-list .message')].find((n) => n.dataset.messageId === messageId);
    if (!li) return null;
    const quote = li.querySelector('.quote');
    const edited = li.querySelector('.edited');
    return {
      text: li.querySelector('.content')?.textContent ?? null,
      deleted: li.classList.contains('deleted'),
      edited: Boolean(edited),
      editedTitle: edited?.title ?? null,
      quote: quote
        ? {
            sender: quote.querySelector('.quote-sender').textContent,
            text: quote.querySelector('.quote-text').textContent,
            deleted: quote.classList.contains('deleted'),
          }
        : null,
      reactions: [...li.querySelectorAll('.reaction[data-emoji]')].map((b) => ({
        emoji: b.dataset.emoji,
        count: Number(b.querySelector('.count').textContent),
        mine: b.classList.contains('mine') && b.getAttribute('aria-pressed') === 'true',
      })),
      mentions: [...li.querySelectorAll('.mention')].map((s) => ({ text: s.textContent, me: s.classList.contains('you') })),
      mentionsMe: li.classList.contains('mentions-me'),
      hasActions: Boolean(li.querySelector('.more')),
    };
  }, id);
}

/** Waits until `p` shows message `id` with every field of `expected`. */
async function expectMessage(p, id, expected, timeout = 10_000) {
  let last;
  try {
    await until(
      async () => {
        last = await describe_(p, id);
        return last && Object.entries(expected).every(([k, v]) => JSON.stringify(last[k]) === JSON.stringify(v));
      },
      { timeout, what: `${p.name} to show ${JSON.stringify(expected)}` },
    );
  } catch (err) {
    throw new Error(`${p.name} shows ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}`, { cause: err });
  }
}

/** The message node of `id` in `p`'s page. */
function messageAt(p, id) {
  return p.page.locator(`#message-list .message[data-message-id="${id}"]`);
}

/** Opens the actions of message `id` (hover, then "⋯") and clicks `action`; gives the node. */
async function act(p, id, action) {
  const node = messageAt(p, id);
  await node.hover();
  await node.locator('.more').click();
  await node.locator(`.actions [data-action="${action}"]`).click();
  return node;
}

/** The actions `p` is offered on message `id`. */
async function actionsOn(p, id) {
  const node = messageAt(p, id);
  await node.hover();
  await node.locator('.more').click();
  const names = await node.locator('.actions [data-action]').evaluateAll((bs) => bs.map((b) => b.dataset.action));
  await p.page.keyboard.press('Escape');
  return names;
}

/** Reacts with `emoji` from the picker. */
async function react(p, id, emoji) {
  const node = await act(p, id, 'react');
  await node.locator(`.picker [data-emoji="${emoji}"]`).click();
}

/** Clicks the reaction chip `emoji` of message `id`. */
async function chip(p, id, emoji) {
  await messageAt(p, id).locator(`.reaction[data-emoji="${emoji}"]`).click();
}

/** Creates a group named `name` with `members` from `owner`'s page, and opens it for everyone after a first message. */
async function createGroup(owner, name, members, first) {
  await owner.page.click('#new-group');
  await owner.page.fill('#group-name', name);
  for (const other of members) {
    await owner.page.fill('#group-member-search', other.username);
    await owner.page.click(`#group-member-results .user-result[data-username="${other.username}"]`);
  }
  await owner.page.click('#group-create');
  await owner.page.waitForFunction((n) => document.querySelector('#conversation-title').textContent === n, name);
  await send(owner, first);
  for (const p of members) {
    await p.page.waitForSelector(`.conversation-item .item-title:text("${name}")`);
    await openConversation(p, name);
    await waitForTexts(p, [first]);
  }
}

/** The list entry titled `title`: its preview and badges. */
function listEntry(p, title) {
  return p.page.evaluate((t) => {
    const item = [...document.querySelectorAll('.conversation-item')].find((b) => b.querySelector('.item-title').textContent === t);
    if (!item) return null;
    return {
      preview: item.querySelector('.item-preview').textContent,
      unread: item.querySelector('.badge')?.textContent ?? null,
      mentions: item.querySelector('.mention-badge')?.textContent ?? null,
      mentionsLabel: item.querySelector('.mention-badge')?.getAttribute('aria-label') ?? null,
    };
  }, title);
}

async function expectListEntry(p, title, expected) {
  let last;
  try {
    await until(
      async () => {
        last = await listEntry(p, title);
        return last && Object.entries(expected).every(([k, v]) => last[k] === v);
      },
      { what: `${p.name}'s list entry ${title}` },
    );
  } catch (err) {
    throw new Error(`${p.name}'s list shows ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}`, { cause: err });
  }
}

/** Goes back to the list (the back button is for phones; a click works at any width). */
function leave(p) {
  return p.page.evaluate(() => document.querySelector('#back').click());
}

/**
 * Puts `p`'s next WebSocket connections through the test: every frame the
 * page sends is recorded (parsed) in the array returned; frames for which
 * `fromPage(frame)` or `fromServer(frame)` is false are dropped.
 */
async function intercept(p, { fromPage = () => true, fromServer = () => true } = {}) {
  const sent = [];
  await p.page.routeWebSocket(/\/ws\?/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      const frame = JSON.parse(message);
      sent.push(frame);
      if (fromPage(frame)) server.send(message);
    });
    server.onMessage((message) => {
      if (fromServer(JSON.parse(message))) ws.send(message);
    });
  });
  return sent;
}

// ---------------------------------------------------------------- a group of three

describe('a group of three', () => {
  let ann;
  let bob;
  let cid;
  const ids = {};

  before(async () => {
    ann = await newPerson('Ann');
    bob = await newPerson('Bob');
    cid = await newPerson('Cid');
    for (const p of [ann, bob, cid]) await signup(p);
    await createGroup(ann, 'Crew', [bob, cid], 'Lunch at noon?');
    ids.lunch = await idOf(ann, 'Lunch at noon?');
  });

  it('replies: a bar above the composer, the quote on every side, a click finds the parent', async () => {
    // Bob answers Ann's message: the bar names her and quotes it.
    await act(bob, ids.lunch, 'reply');
    await bob.page.waitForSelector('#reply-bar:not([hidden])');
    assert.equal(await bob.page.textContent('#reply-name'), 'Ann');
    assert.equal(await bob.page.textContent('#reply-excerpt'), 'Lunch at noon?');
    await screenshot(bob, 'reply-bar');
    await send(bob, 'Yes, count me in');
    await bob.page.waitForSelector('#reply-bar', { state: 'hidden' });
    ids.yes = await idOf(ann, 'Yes, count me in');
    const quoted = { quote: { sender: 'Ann', text: 'Lunch at noon?', deleted: false } };
    for (const p of [ann, bob, cid]) await expectMessage(p, ids.yes, quoted);

    // The frame carried reply_to: the stored message quotes it, after a reload too.
    await cid.page.reload();
    await connected(cid);
    await expectMessage(cid, ids.yes, quoted);

    // A reply cancelled with × sends a plain message.
    await act(bob, ids.lunch, 'reply');
    await bob.page.click('#cancel-reply');
    await bob.page.waitForSelector('#reply-bar', { state: 'hidden' });
    await send(bob, 'not an answer');
    ids.plain = await idOf(ann, 'not an answer');
    await expectMessage(ann, ids.plain, { quote: null });
    // Escape in the composer cancels too.
    await act(bob, ids.lunch, 'reply');
    await bob.page.press('#message-input', 'Escape');
    await bob.page.waitForSelector('#reply-bar', { state: 'hidden' });

    // Clicking the quote scrolls to the parent and highlights it.
    await messageAt(cid, ids.yes).locator('.quote').click();
    await cid.page.waitForSelector(`#message-list .message.highlight[data-message-id="${ids.lunch}"]`);
    await cid.page.waitForSelector(`#message-list .message.highlight`, { state: 'detached', timeout: 5_000 });
  });

  it('reactions: a picker, chips with counts live on every side, mine highlighted, a chip toggles', async () => {
    await react(bob, ids.lunch, '👍');
    await expectMessage(bob, ids.lunch, { reactions: [{ emoji: '👍', count: 1, mine: true }] });
    await expectMessage(ann, ids.lunch, { reactions: [{ emoji: '👍', count: 1, mine: false }] });
    await expectMessage(cid, ids.lunch, { reactions: [{ emoji: '👍', count: 1, mine: false }] });

    // Cid joins by clicking the chip, and adds a heart (an emoji with a variation selector).
    await chip(cid, ids.lunch, '👍');
    await react(cid, ids.lunch, '❤️');
    await expectMessage(ann, ids.lunch, {
      reactions: [
        { emoji: '👍', count: 2, mine: false },
        { emoji: '❤️', count: 1, mine: false },
      ],
    });
    await expectMessage(bob, ids.lunch, {
      reactions: [
        { emoji: '👍', count: 2, mine: true },
        { emoji: '❤️', count: 1, mine: false },
      ],
    });
    await screenshot(ann, 'reactions');

    // Bob takes his back with the chip: the count drops on the other sides, Cid's stays his.
    await chip(bob, ids.lunch, '👍');
    await expectMessage(bob, ids.lunch, {
      reactions: [
        { emoji: '👍', count: 1, mine: false },
        { emoji: '❤️', count: 1, mine: false },
      ],
    });
    await expectMessage(ann, ids.lunch, {
      reactions: [
        { emoji: '👍', count: 1, mine: false },
        { emoji: '❤️', count: 1, mine: false },
      ],
    });
    await expectMessage(cid, ids.lunch, {
      reactions: [
        { emoji: '👍', count: 1, mine: true },
        { emoji: '❤️', count: 1, mine: true },
      ],
    });
    // Cid takes back the heart from the picker: the chip goes everywhere.
    await react(cid, ids.lunch, '❤️');
    for (const p of [ann, bob]) await expectMessage(p, ids.lunch, { reactions: [{ emoji: '👍', count: 1, mine: false }] });
    await expectMessage(cid, ids.lunch, { reactions: [{ emoji: '👍', count: 1, mine: true }] });
  });

  it('edits: inline, Escape cancels, Enter saves, "(edited)" live on the other sides, only for own messages', async () => {
    // Only the sender may edit.
    assert.ok(!(await actionsOn(bob, ids.lunch)).includes('edit'));
    assert.ok((await actionsOn(ann, ids.lunch)).includes('edit'));

    // Escape leaves the text as it was.
    const node = await act(ann, ids.lunch, 'edit');
    await node.locator('.edit-input').fill('Lunch at 2?');
    await node.locator('.edit-input').press('Escape');
    await expectMessage(ann, ids.lunch, { text: 'Lunch at noon?', edited: false });

    // Enter saves.
    await act(ann, ids.lunch, 'edit');
    assert.equal(await node.locator('.edit-input').inputValue(), 'Lunch at noon?');
    await node.locator('.edit-input').fill('Lunch at 1pm?');
    await node.locator('.edit-input').press('Enter');
    for (const p of [ann, bob, cid]) await expectMessage(p, ids.lunch, { text: 'Lunch at 1pm?', edited: true });
    const seen = await describe_(bob, ids.lunch);
    assert.match(seen.editedTitle, /^Edited /);
    // The reply's quote follows the edit; the reactions stay.
    await expectMessage(cid, ids.yes, { quote: { sender: 'Ann', text: 'Lunch at 1pm?', deleted: false } });
    assert.deepEqual(seen.reactions, [{ emoji: '👍', count: 1, mine: false }]);
    await screenshot(bob, 'edited');

    // Up in the empty composer edits one's last message (Bob's "not an answer").
    await bob.page.focus('#message-input');
    await bob.page.keyboard.press('ArrowUp');
    const editor = messageAt(bob, ids.plain).locator('.edit-input');
    await editor.waitFor();
    await editor.fill('an aside');
    await editor.press('Enter');
    for (const p of [ann, bob, cid]) await expectMessage(p, ids.plain, { text: 'an aside', edited: true });
  });

  it('deletions: confirmed first, a tombstone live on every side, quotes say deleted, owners moderate', async () => {
    // Cancelling the confirmation keeps the message.
    await act(ann, ids.lunch, 'delete');
    await ann.page.waitForSelector('#delete-dialog[open]');
    assert.equal(await ann.page.textContent('#delete-excerpt'), 'Lunch at 1pm?');
    await screenshot(ann, 'delete-confirm');
    await ann.page.click('#delete-cancel');
    await ann.page.waitForSelector('#delete-dialog:not([open])', { state: 'attached' });
    await expectMessage(ann, ids.lunch, { deleted: false, text: 'Lunch at 1pm?' });

    await act(ann, ids.lunch, 'delete');
    await ann.page.click('#delete-confirm');
    const tombstone = { deleted: true, text: 'This message was deleted', reactions: [], edited: false, hasActions: false };
    for (const p of [ann, bob, cid]) await expectMessage(p, ids.lunch, tombstone);
    // Bob's answer now quotes a deleted message.
    for (const p of [ann, bob, cid]) await expectMessage(p, ids.yes, { quote: { sender: 'Ann', text: 'Deleted message', deleted: true } });
    await screenshot(cid, 'deleted');

    // A member may delete only their own; the owner anyone's.
    assert.deepEqual((await actionsOn(cid, ids.yes)).sort(), ['react', 'reply', 'report']);
    assert.ok((await actionsOn(bob, ids.yes)).includes('delete'));
    assert.ok((await actionsOn(ann, ids.yes)).includes('delete'));
    await act(ann, ids.yes, 'delete');
    assert.match(await ann.page.textContent('#delete-who'), /Bob's message/);
    await ann.page.click('#delete-confirm');
    for (const p of [ann, bob, cid]) await expectMessage(p, ids.yes, { deleted: true });

    // The list's preview of a deleted last message says so.
    await send(cid, 'oops, wrong chat');
    const oops = await idOf(ann, 'oops, wrong chat');
    await act(cid, oops, 'delete');
    await cid.page.click('#delete-confirm');
    await expectMessage(ann, oops, { deleted: true });
    await expectListEntry(ann, 'Crew', { preview: 'Cid: This message was deleted' });
    await expectListEntry(cid, 'Crew', { preview: 'You deleted this message' });
    // And after a reload, from the server's summary.
    await ann.page.reload();
    await connected(ann);
    await expectListEntry(ann, 'Crew', { preview: 'Cid: This message was deleted' });
    await expectMessage(ann, oops, { deleted: true, text: 'This message was deleted' });
  });

  it('mentions: highlighted (stronger for me), a badge in the list until read, edits count too', async () => {
    // Cid is elsewhere; Ann mentions Bob and Cid, and a name that is nobody's.
    await leave(cid);
    const text = `@${bob.username} @${cid.username} standup at 10? (not @nobody, nor mail@${bob.username})`;
    await send(ann, text);
    const id = await idOf(bob, text);
    await expectMessage(bob, id, {
      mentions: [
        { text: '@' + bob.username, me: true },
        { text: '@' + cid.username, me: false },
      ],
      mentionsMe: true,
    });
    // The sender sees whom the server resolved, too.
    await expectMessage(ann, id, {
      mentions: [
        { text: '@' + bob.username, me: false },
        { text: '@' + cid.username, me: false },
      ],
      mentionsMe: false,
    });
    await expectListEntry(cid, 'Crew', { mentions: '@', mentionsLabel: '1 mention', unread: '1' });
    await screenshot(cid, 'mention-badge');

    // Reading clears the badge; the mention is the strong one for Cid.
    await openConversation(cid, 'Crew');
    await expectMessage(cid, id, {
      mentions: [
        { text: '@' + bob.username, me: false },
        { text: '@' + cid.username, me: true },
      ],
      mentionsMe: true,
    });
    await expectListEntry(cid, 'Crew', { mentions: null, unread: null });
    await screenshot(cid, 'mentions');

    // An edit that adds a mention counts while unread, and is cleared by reading.
    await leave(cid);
    await send(ann, 'who brings the cake?');
    const cake = await idOf(ann, 'who brings the cake?');
    await expectListEntry(cid, 'Crew', { mentions: null, unread: '1' });
    await act(ann, cake, 'edit');
    await messageAt(ann, cake).locator('.edit-input').fill(`who brings the cake, @${cid.username}?`);
    await messageAt(ann, cake).locator('.edit-input').press('Enter');
    await expectListEntry(cid, 'Crew', { mentions: '@', unread: '1' });
    // Bob's page shows the new mention live.
    await expectMessage(bob, cake, { mentions: [{ text: '@' + cid.username, me: false }] });
    await openConversation(cid, 'Crew');
    await expectListEntry(cid, 'Crew', { mentions: null, unread: null });
    await expectMessage(cid, cake, { mentions: [{ text: '@' + cid.username, me: true }], edited: true });

    // The composer suggests members after "@"; Enter puts the username in.
    await bob.page.type('#message-input', 'thanks @' + cid.username.slice(0, 3));
    await bob.page.waitForSelector(`#mention-suggestions:not([hidden]) .suggestion.active[data-username="${cid.username}"]`);
    await screenshot(bob, 'mention-autocomplete');
    await bob.page.keyboard.press('Enter');
    await bob.page.waitForSelector('#mention-suggestions', { state: 'hidden' });
    assert.equal(await bob.page.inputValue('#message-input'), `thanks @${cid.username} `);
    await bob.page.keyboard.type('for the cake');
    await bob.page.keyboard.press('Enter');
    const thanks = await idOf(cid, `thanks @${cid.username} for the cake`);
    await expectMessage(cid, thanks, { mentions: [{ text: '@' + cid.username, me: true }] });
  });

  it('treats a change as a log entry: no sync for it, acknowledged by its seq, fetched by sync after a real gap', async () => {
    // Bob's socket goes through the test, which may hold back one `message.changed`.
    let dropNextChange = false;
    const frames = await intercept(bob, {
      fromServer: (f) => {
        if (f.type !== 'message.changed' || !dropNextChange) return true;
        dropNextChange = false;
        return false;
      },
    });
    await bob.page.reload();
    await connected(bob);
    const { texts: shown, lastId: last } = await textsOf(ann);
    await waitForTexts(bob, shown);
    const token = (await sessionOf(ann)).accessToken;
    const crew = await ann.page.evaluate(() => new URLSearchParams(location.hash.slice(1)).get('c'));
    const reactions = (emoji) => `conversations/${crew}/messages/${last}/reactions/${encodeURIComponent(emoji)}`;

    // A reaction (a change, seq N), then a message (seq N + 1): no gap.
    const { change } = await ok(server.url, 'PUT', reactions('🎉'), { token });
    await expectMessage(bob, last, { reactions: [{ emoji: '🎉', count: 1, mine: false }] });
    await until(() => frames.some((f) => f.type === 'messages.ack' && f.conversation_id === crew && f.seq === change.seq), {
      what: 'Bob to acknowledge the change by its seq',
    });
    await send(ann, 'after the party popper');
    await waitForTexts(bob, [...shown, 'after the party popper']);
    await until(() => frames.some((f) => f.type === 'messages.ack' && f.seq === change.seq + 1), { what: 'the next ack' });
    await bob.page.waitForTimeout(300);
    assert.deepEqual(
      frames.filter((f) => f.type === 'sync'),
      [],
      'a change is no gap to fill',
    );

    // A change that never arrives (seq N + 2) is a gap once the next entry comes: `sync` fetches it.
    dropNextChange = true;
    await ok(server.url, 'PUT', reactions('😮'), { token });
    await send(ann, 'did you see that?');
    await waitForTexts(bob, [...shown, 'after the party popper', 'did you see that?']);
    await expectMessage(bob, last, {
      reactions: [
        { emoji: '🎉', count: 1, mine: false },
        { emoji: '😮', count: 1, mine: false },
      ],
    });
    assert.deepEqual(
      frames.filter((f) => f.type === 'sync').map((f) => [f.conversation_id, f.after_seq]),
      [[crew, change.seq + 1]],
    );
    await until(() => frames.some((f) => f.type === 'messages.ack' && f.seq === change.seq + 3), { what: 'the ack after the gap' });
  });

  it('shows a refused edit as an error and restores the message', async () => {
    await send(bob, 'short and sweet');
    const id = await idOf(bob, 'short and sweet');
    await expectMessage(ann, id, { text: 'short and sweet' });
    const node = await act(bob, id, 'edit');
    // One character over the limit: the server refuses it (CONTENT_TOO_LONG).
    await node.locator('.edit-input').fill('x'.repeat(10_001));
    await node.locator('.edit-input').press('Enter');
    await bob.page.waitForSelector('#toast:not([hidden])');
    assert.match(await bob.page.textContent('#toast'), /The edit was not saved: .*10000 characters/);
    await expectMessage(bob, id, { text: 'short and sweet', edited: false });
    await screenshot(bob, 'edit-refused');
    await ann.page.waitForTimeout(300);
    await expectMessage(ann, id, { text: 'short and sweet', edited: false });
    // The message still takes a good edit.
    await act(bob, id, 'edit');
    await node.locator('.edit-input').fill('short, sweet');
    await node.locator('.edit-input').press('Enter');
    await expectMessage(ann, id, { text: 'short, sweet', edited: true });
  });

  it('catches up on edits, deletions and reactions made while offline, and after logging in again', async () => {
    await send(ann, 'first draft');
    await send(ann, 'to be removed');
    await send(ann, 'react to me');
    const draft = await idOf(ann, 'first draft');
    const removed = await idOf(ann, 'to be removed');
    const reacted = await idOf(ann, 'react to me');
    for (const p of [bob, cid]) await expectMessage(p, reacted, { text: 'react to me' });

    // Bob's browser goes offline with the conversation open; Cid logs out.
    // Bob's next connection sends no `sync`: the catch-up alone must bring the changes.
    await bob.context.setOffline(true);
    await bob.page.waitForSelector('#connection[data-state="offline"]');
    const bobSent = await intercept(bob, { fromPage: (f) => f.type !== 'sync' });
    await logout(cid);

    await act(ann, draft, 'edit');
    await messageAt(ann, draft).locator('.edit-input').fill('final draft');
    await messageAt(ann, draft).locator('.edit-input').press('Enter');
    await act(ann, removed, 'delete');
    await ann.page.click('#delete-confirm');
    await react(ann, reacted, '😂');
    await expectMessage(ann, reacted, { reactions: [{ emoji: '😂', count: 1, mine: true }] });
    await expectMessage(ann, removed, { deleted: true });

    // Back online: the catch-up (and sync) bring the changes to the open conversation.
    await bob.context.setOffline(false);
    await connected(bob);
    await expectMessage(bob, draft, { text: 'final draft', edited: true });
    await expectMessage(bob, removed, { deleted: true, text: 'This message was deleted' });
    await expectMessage(bob, reacted, { reactions: [{ emoji: '😂', count: 1, mine: false }] });
    assert.ok(bobSent.some((f) => f.type === 'sync'), 'Bob asked for a sync, which the test held back');

    // Cid logs in again: history shows every message as it is now.
    await login(cid);
    await cid.page.waitForURL(/chat\.html/);
    await connected(cid);
    await openConversation(cid, 'Crew');
    await expectMessage(cid, draft, { text: 'final draft', edited: true });
    await expectMessage(cid, removed, { deleted: true, text: 'This message was deleted' });
    await expectMessage(cid, reacted, { reactions: [{ emoji: '😂', count: 1, mine: false }] });
    // Cid's reaction reaches Bob live.
    await chip(cid, reacted, '😂');
    await expectMessage(bob, reacted, { reactions: [{ emoji: '😂', count: 2, mine: false }] });
  });
});

/** The texts of `p`'s open conversation and the id of its newest message. */
async function textsOf(p) {
  return p.page.evaluate(() => {
    const nodes = [...document.querySelectorAll('#message-list .message[data-message-id]')];
    return {
      texts: [...document.querySelectorAll('#message-list .message .content')].map((n) => n.textContent),
      lastId: nodes.at(-1)?.dataset.messageId,
    };
  });
}

// ---------------------------------------------------------------- a direct conversation

describe('a direct conversation', () => {
  it('replies, reacts, edits and deletes both ways, with "⋯" at phone width', async () => {
    const dee = await newPerson('Dee', { width: 390, height: 780 });
    const eve = await newPerson('Eve');
    await signup(dee);
    await signup(eve);
    await startDirect(eve, dee);
    await send(eve, 'Are you coming tonight?');
    await dee.page.waitForSelector('.conversation-item');
    await openConversation(dee, 'Eve');
    const question = await idOf(dee, 'Are you coming tonight?');

    // At phone width "⋯" shows without hovering, and opens the actions.
    const node = messageAt(dee, question);
    assert.equal(await node.locator('.more').evaluate((b) => getComputedStyle(b).opacity), '1');
    await node.locator('.more').click();
    assert.deepEqual(await node.locator('.actions [data-action]').evaluateAll((bs) => bs.map((b) => b.dataset.action)), ['react', 'reply', 'report']);
    await screenshot(dee, 'phone-actions');
    await node.locator('.actions [data-action="reply"]').click();
    await send(dee, 'Yes! 8pm?');
    const answer = await idOf(eve, 'Yes! 8pm?');
    await expectMessage(eve, answer, { quote: { sender: 'Eve', text: 'Are you coming tonight?', deleted: false } });

    await react(eve, answer, '🎉');
    await expectMessage(dee, answer, { reactions: [{ emoji: '🎉', count: 1, mine: false }] });
    await react(dee, answer, '🎉');
    await expectMessage(eve, answer, { reactions: [{ emoji: '🎉', count: 2, mine: true }] });

    await act(dee, answer, 'edit');
    await messageAt(dee, answer).locator('.edit-input').fill('Yes! 9pm?');
    await messageAt(dee, answer).locator('.edit-input').press('Enter');
    await expectMessage(eve, answer, { text: 'Yes! 9pm?', edited: true, reactions: [{ emoji: '🎉', count: 2, mine: true }] });

    // In a direct conversation nobody moderates: Eve may not delete Dee's message.
    assert.ok(!(await actionsOn(eve, answer)).includes('delete'));
    await act(eve, question, 'delete');
    await eve.page.click('#delete-confirm');
    await expectMessage(dee, question, { deleted: true });
    await expectMessage(dee, answer, { quote: { sender: 'Eve', text: 'Deleted message', deleted: true } });
  });

  it('changes over REST while the socket is down', async () => {
    const fay = await newPerson('Fay');
    const gus = await restUser(server.url, 'Gus');
    // Fay's page never gets a socket.
    await fay.page.routeWebSocket(/\/ws/, (ws) => ws.close());
    await fay.page.goto(server.url + '/');
    await fay.page.click('#tab-signup');
    await fay.page.fill('#signup-username', fay.username);
    await fay.page.fill('#signup-email', fay.email);
    await fay.page.fill('#signup-password', fay.password);
    await fay.page.click('#signup-form button[type=submit]');
    await fay.page.waitForURL(/chat\.html/);
    const { userId } = await sessionOf(fay);
    const sent = await ok(server.url, 'POST', 'messages/send', { token: gus.token, body: { recipient_id: userId, content: 'ping over REST' } });
    await fay.page.reload();
    await openConversation(fay, 'Gus');
    await react(fay, sent.message_id, '👍');
    await expectMessage(fay, sent.message_id, { reactions: [{ emoji: '👍', count: 1, mine: true }] });
    // The page shows a reaction as soon as it is asked for; the store has it
    // once the PUT is answered.
    let reactions;
    await until(async () => {
      const history = await ok(server.url, 'GET', `conversations/${sent.conversation_id}/messages`, { token: gus.token });
      reactions = history.messages[0].reactions;
      return reactions.length > 0;
    }, { what: "Fay's reaction in Gus's history" });
    assert.deepEqual(reactions, [{ emoji: '👍', count: 1, me: false }]);
    // Taking it back, and a refusal (Gus's message is not Fay's to delete: no such action).
    await chip(fay, sent.message_id, '👍');
    await expectMessage(fay, sent.message_id, { reactions: [] });
    assert.ok(!(await actionsOn(fay, sent.message_id)).includes('delete'));
  });
});
