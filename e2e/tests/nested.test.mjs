// The chat nested in another application (examples/axum_nest.rs,
// docs/embedding.md): Acme logs its employees in itself, hands the chat
// tokens to the demo's chat page under /chat, and two employees chat there.

import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';

import { connected, launch, person, send, startDirect, waitForTexts } from '../lib/browser.mjs';
import { built, startApp } from '../lib/server.mjs';

let acme;
let browser;

before(async () => {
  acme = await startApp({
    binary: process.env.CHAT_AXUM_NEST_BIN || built('examples', 'axum_nest'),
    args: (listen) => ['--serve', listen],
    health: '/chat/healthz',
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await acme?.dispose();
});

/** An Acme employee, logged in at Acme's own page. */
async function employee(name, username, pin) {
  const p = { ...(await person(browser, acme.url, name)), username };
  await p.page.goto(acme.url + '/');
  await p.page.fill('#acme-name', username);
  await p.page.fill('#acme-pin', pin);
  await p.page.click('#acme-login button[type=submit]');
  await p.page.waitForURL(acme.url + '/chat/chat.html');
  await connected(p);
  return p;
}

it('runs the demo chat under /chat on the sessions of the host login', async () => {
  const grace = await employee('Grace Hopper', 'grace', '1906');
  const ada = await employee('Ada Lovelace', 'ada', '1815');
  await startDirect(ada, grace);
  await send(ada, 'Lunch at noon?');
  await waitForTexts(ada, ['Lunch at noon?']);

  await grace.page.locator('.conversation-item', { hasText: 'Ada Lovelace' }).click();
  await waitForTexts(grace, ['Lunch at noon?']);
  for (const p of [ada, grace]) {
    assert.deepEqual(p.errors.filter((e) => !e.includes('Failed to load resource')), []);
  }
});

it('shows the host login page its error for a wrong PIN', async () => {
  const eve = await person(browser, acme.url, 'Eve');
  await eve.page.goto(acme.url + '/');
  await eve.page.fill('#acme-name', 'ada');
  await eve.page.fill('#acme-pin', '0000');
  await eve.page.click('#acme-login button[type=submit]');
  await eve.page.waitForFunction(() => document.querySelector('#acme-error').textContent !== '');
  assert.equal(new URL(eve.page.url()).pathname, '/');
});
