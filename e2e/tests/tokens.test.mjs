// Token lifetime in the browser: with 8-second access tokens, the page
// refreshes them before they expire and re-authenticates its one socket in
// band, and a request refused with 401 is refreshed and retried.

import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';

import { launch, person, send, signup, startDirect, waitForTexts } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ CHAT_ACCESS_TOKEN_TTL_SECS: '8' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

it('keeps one socket alive across access token expiries', async () => {
  const eve = await person(browser, server.url, 'Eve');
  const fay = await person(browser, server.url, 'Fay');
  await signup(fay);

  const sockets = [];
  eve.page.on('websocket', (ws) => {
    const seen = { closed: false, received: [] };
    sockets.push(seen);
    ws.on('framereceived', (f) => seen.received.push(JSON.parse(f.payload).type));
    ws.on('close', () => (seen.closed = true));
  });
  await signup(eve);
  await startDirect(eve, fay);
  const firstToken = await eve.page.evaluate(() => JSON.parse(sessionStorage.getItem('chat.session')).accessToken);

  // Two lifetimes of the first token.
  await eve.page.waitForTimeout(17_000);
  const token = await eve.page.evaluate(() => JSON.parse(sessionStorage.getItem('chat.session')).accessToken);
  assert.notEqual(token, firstToken);
  assert.equal(sockets.length, 1, 'the socket was never replaced');
  assert.equal(sockets[0].closed, false);
  assert.ok(sockets[0].received.filter((t) => t === 'auth.ok').length >= 2, 'the socket re-authenticated in band');

  await send(eve, 'still here');
  await waitForTexts(eve, ['still here']);
  const fayPage = fay.page;
  await fayPage.waitForSelector('.conversation-item .item-title:text("Eve")');
  assert.deepEqual(eve.errors.filter((e) => !e.includes('Failed to load resource')), []);
});

it('refreshes and retries a request refused with 401', async () => {
  const gus = await person(browser, server.url, 'Gus');
  await signup(gus);
  // Spoil the access token: the next request gets 401, refreshes, retries.
  await gus.page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('chat.session'));
    s.accessToken = 'not-a-token';
    sessionStorage.setItem('chat.session', JSON.stringify(s));
  });
  await gus.page.fill('#user-search', 'Ev');
  await gus.page.waitForSelector('#search-results .user-result');
  const token = await gus.page.evaluate(() => JSON.parse(sessionStorage.getItem('chat.session')).accessToken);
  assert.notEqual(token, 'not-a-token');
});
