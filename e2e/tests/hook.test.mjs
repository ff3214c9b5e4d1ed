// The moderation hook in the demo: a server whose messages pass a local
// hook (docs/api.md, "Moderation hook"). A rewritten message shows its
// stored text in the sender's own bubble as well as the recipient's; a
// refused one says why under it and is stored nowhere.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';

import { assertQuietPages, launch, openConversation, person, screenshot, send, signup, waitForTexts } from '../lib/browser.mjs';
import { ok, restUser } from '../lib/rest.mjs';
import { startServer } from '../lib/server.mjs';

let hook;
let server;
let browser;
const people = [];

/** The hook: "darn" becomes "****", "spam" is refused, the rest allowed. */
function startHook() {
  return new Promise((ready) => {
    const h = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        const { content } = JSON.parse(body);
        response.setHeader('content-type', 'application/json');
        if (content.includes('spam')) response.end(JSON.stringify({ action: 'refuse', reason: 'no spam here' }));
        else if (content.includes('darn')) response.end(JSON.stringify({ action: 'rewrite', content: content.replaceAll('darn', '****') }));
        else response.end(JSON.stringify({ action: 'allow' }));
      });
    });
    h.listen(0, '127.0.0.1', () => ready(h));
  });
}

before(async () => {
  hook = await startHook();
  server = await startServer({ CHAT_MESSAGE_HOOK_URL: `http://127.0.0.1:${hook.address().port}/check` });
  browser = await launch();
});

after(async () => {
  assertQuietPages(people);
  await browser?.close();
  await server?.dispose();
  hook?.close();
});

describe('moderation hook', () => {
  it('a rewrite shows in the sender\'s own bubble; a refusal says why and is stored nowhere', async () => {
    const ann = await person(browser, server.url, 'Ann');
    people.push(ann);
    await signup(ann);
    const bob = await restUser(server.url, 'Bob');
    const cid = (await ok(server.url, 'POST', `conversations/direct/${ann.username}`, { token: bob.token })).conversation_id;
    await ok(server.url, 'POST', `conversations/${cid}/messages`, { token: bob.token, body: { content: 'hi Ann' } });
    await ann.page.waitForSelector('.conversation-item .item-title:text("Bob")');
    await openConversation(ann, 'Bob');

    await send(ann, 'darn, that build');
    await waitForTexts(ann, ['hi Ann', '****, that build']);
    await send(ann, 'cheap spam here');
    await ann.page.waitForSelector('#message-list .message.failed .send-error:text("Not sent: no spam here")');
    await screenshot(ann, 'hook-rewrite-and-refusal');

    const history = await ok(server.url, 'GET', `conversations/${cid}/messages`, { token: bob.token });
    assert.deepEqual(
      history.messages.map((m) => m.content).reverse(),
      ['hi Ann', '****, that build'],
      'Bob has the stored text, and nothing refused',
    );
  });
});
