// The server restarts under an open page: the socket reconnects by itself
// (with backoff), and a message typed while the server was down is kept,
// sent once it is back, and delivered exactly once.

import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';

import { connected, launch, person, send, signup, startDirect, texts, waitForMark, waitForTexts } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

it('reconnects after a server restart and sends what was typed meanwhile', async () => {
  const ola = await person(browser, server.url, 'Ola');
  const pat = await person(browser, server.url, 'Pat');
  await signup(ola);
  await signup(pat);
  await startDirect(ola, pat);
  await send(ola, 'before');
  await pat.page.waitForSelector('.conversation-item .item-title:text("Ola")');
  await pat.page.click('.conversation-item');
  await waitForTexts(pat, ['before']);

  await server.stop();
  await ola.page.waitForSelector('#connection[data-state="connecting"]');
  await send(ola, 'while the server was down');
  await waitForMark(ola, 'while the server was down', 'pending');
  await pat.page.waitForSelector('#connection[data-state="connecting"]');

  await server.start();
  await connected(ola);
  await connected(pat);
  await waitForTexts(pat, ['before', 'while the server was down']);
  await waitForMark(ola, 'while the server was down', 'read');
  await send(pat, 'welcome back');
  await waitForTexts(ola, ['before', 'while the server was down', 'welcome back']);
  await pat.page.waitForTimeout(500);
  assert.deepEqual(await texts(pat), ['before', 'while the server was down', 'welcome back']);
  for (const p of [ola, pat]) {
    assert.deepEqual(
      p.errors.filter((e) => !/Failed to load resource|WebSocket connection/.test(e)),
      [],
      `${p.name}'s page reported errors`,
    );
  }
});
