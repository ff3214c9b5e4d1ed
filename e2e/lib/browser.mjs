// Headless Chromium (Debian's package, driven by playwright-core; nothing
// is downloaded) and the demo's page actions.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

export async function launch() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A user in their own browser context (own sessionStorage, own socket). */
export async function person(browser, base, name, viewport = { width: 1100, height: 760 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  // Warnings are no failure, but they say what went wrong when a test times out.
  const warnings = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
    if (m.type() === 'warning') warnings.push(m.text());
  });
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  const username = `${name}${Math.random().toString(36).slice(2, 8)}`;
  return {
    name,
    username,
    email: `${username}@example.com`,
    password: 's3cret!pass',
    context,
    page,
    errors,
    warnings,
    dialogs,
    base,
  };
}

export async function signup(p) {
  const { page } = p;
  await page.goto(p.base + '/');
  await page.click('#tab-signup');
  await page.fill('#signup-username', p.username);
  await page.fill('#signup-email', p.email);
  await page.fill('#signup-display-name', p.name);
  await page.fill('#signup-password', p.password);
  await page.click('#signup-form button[type=submit]');
  await page.waitForURL(/chat\.html/);
  await connected(p);
}

export async function login(p, password = p.password) {
  const { page } = p;
  await page.goto(p.base + '/');
  await page.fill('#login-username', p.username);
  await page.fill('#login-password', password);
  await page.click('#login-form button[type=submit]');
}

/** Waits for the socket to be open (the status bar is hidden then, hence `attached`). */
export async function connected(p) {
  await p.page.waitForSelector('#connection[data-state="open"]', { state: 'attached' });
}

export async function logout(p) {
  await p.page.click('#logout');
  await p.page.waitForSelector('#login-form:not([hidden])');
}

/** Finds `other` with the search box and opens the direct conversation. */
export async function startDirect(p, other) {
  const { page } = p;
  await page.fill('#user-search', other.username.slice(0, -2));
  await page.click(`#search-results .user-result[data-username="${other.username}"]`);
  await page.waitForSelector('#conversation:not([hidden])');
  await page.waitForFunction((name) => document.querySelector('#conversation-title').textContent === name, other.name);
}

/** Opens the conversation whose list entry has title `title`. */
export async function openConversation(p, title) {
  await p.page.locator('.conversation-item', { has: p.page.locator('.item-title', { hasText: title }) }).click();
  await p.page.waitForFunction((t) => document.querySelector('#conversation-title').textContent === t, title);
}

export async function send(p, text) {
  await p.page.fill('#message-input', text);
  await p.page.press('#message-input', 'Enter');
}

/** The texts of the open conversation's messages, in order. */
export function texts(p) {
  return p.page.$$eval('#message-list .message .content', (nodes) => nodes.map((n) => n.textContent));
}

/** Waits until the open conversation shows exactly `expected` (in order). */
export async function waitForTexts(p, expected, timeout = 10_000) {
  try {
    await p.page.waitForFunction(
      (want) =>
        JSON.stringify([...document.querySelectorAll('#message-list .message .content')].map((n) => n.textContent)) ===
        JSON.stringify(want),
      expected,
      { timeout },
    );
  } catch (err) {
    throw new Error(`${p.name} shows ${JSON.stringify(await texts(p))}, expected ${JSON.stringify(expected)}`, { cause: err });
  }
}

/** The mark (`pending`, `sent`, `delivered`, `read`) on own message `text`. */
export async function waitForMark(p, text, mark, timeout = 10_000) {
  await p.page.waitForFunction(
    ([t, m]) =>
      [...document.querySelectorAll('#message-list .message.mine')].some(
        (li) => li.querySelector('.content').textContent === t && li.querySelector('.mark')?.dataset.mark === m,
      ),
    [text, mark],
    { timeout },
  );
}

/** The unread badge of the list entry titled `title` ('' when none). */
export function badge(p, title) {
  return p.page
    .locator('.conversation-item', { has: p.page.locator('.item-title', { hasText: title }) })
    .locator('.badge')
    .textContent({ timeout: 10_000 });
}

export async function screenshot(p, name) {
  await p.page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/**
 * Fails unless no page of `people` ran a dialog (an XSS probe would) or
 * reported an error. "Failed to load resource" is left out: refused
 * requests log it, and tests cause those on purpose.
 */
export function assertQuietPages(people) {
  for (const p of people) {
    assert.deepEqual(p.dialogs, [], `${p.name} saw dialogs`);
    assert.deepEqual(
      p.errors.filter((e) => !e.includes('Failed to load resource')),
      [],
      `${p.name}'s page reported errors`,
    );
  }
}
