// Files in messages, end to end: Ann attaches an image with the file
// picker, a text file by dropping it and an image by pasting it, sees each
// upload on a chip (its progress, or why it was refused), and sends; Bob
// sees the image's preview inline, opens the full image, and downloads
// the file with the same bytes. The server runs with a small upload limit
// (CHAT_MAX_UPLOAD_BYTES) so that a refused upload is cheap to make.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';

import { launch, openConversation, person, screenshot, signup, startDirect } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';

const LIMIT = 300_000;

let server;
let browser;
const people = [];

async function newPerson(name, viewport) {
  const p = await person(browser, server.url, name, viewport);
  people.push(p);
  return p;
}

before(async () => {
  server = await startServer({ CHAT_MAX_UPLOAD_BYTES: String(LIMIT) });
  browser = await launch();
});

after(async () => {
  for (const p of people) {
    // The file names hold markup: nothing of it may run.
    assert.deepEqual(p.dialogs, [], `${p.name} saw dialogs`);
    assert.deepEqual(
      // A refused upload logs "Failed to load resource"; the tests cause those on purpose.
      p.errors.filter((e) => !e.includes('Failed to load resource') && !e.includes('net::ERR_')),
      [],
      `${p.name}'s page reported errors`,
    );
  }
  await browser?.close();
  await server?.dispose();
});

// ---------------------------------------------------------------- files made here

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A `width` × `height` RGB PNG: a gradient, so its preview is not blank. */
function png(width, height) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = Math.round((255 * x) / width);
      raw[row + 2 + x * 3] = Math.round((255 * y) / height);
      raw[row + 3 + x * 3] = 160;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** As the page words sizes: `512 B`, `12 KB`, `3.4 MB`. */
function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const kb = bytes / 1024;
  if (kb < 1024) return `${kb < 10 ? Math.round(kb * 10) / 10 : Math.round(kb)} KB`;
  const mb = kb / 1024;
  return `${mb < 10 ? Math.round(mb * 10) / 10 : Math.round(mb)} MB`;
}

const PHOTO = png(400, 300);
// A name with markup in it: it must show as text, and run nothing.
const NOTES_NAME = 'notes <img src=x onerror=alert(1)>.txt';
const NOTES = Buffer.from('Shopping list\n- bread\n- crème fraîche\n- 🍋 lemons\n'.repeat(40), 'utf8');
const TALL = png(150, 500);

// ---------------------------------------------------------------- page helpers

/** The chips above the message box: `[{name, size, state, error, progress}]`. */
function chips(p) {
  return p.page.$$eval('#attachment-tray .upload', (nodes) =>
    nodes.map((n) => ({
      name: n.querySelector('.upload-name').textContent,
      size: n.querySelector('.upload-size').textContent,
      state: n.dataset.state,
      error: n.querySelector('.upload-error').textContent,
      progress: n.querySelector('.upload-progress').value,
    })),
  );
}

/** Waits until every chip is in `state` (and there are `count` of them). */
async function waitForChips(p, count, state, timeout = 10_000) {
  await p.page.waitForFunction(
    ([n, s]) => {
      const nodes = [...document.querySelectorAll('#attachment-tray .upload')];
      return nodes.length === n && nodes.every((node) => node.dataset.state === s);
    },
    [count, state],
    { timeout },
  );
}

/** Drops a file on the conversation as a browser would: dragenter (the drop zone shows), then drop. */
async function dropFile(p, name, text, type) {
  return p.page.evaluate(
    ([fileName, content, mime]) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([content], fileName, { type: mime }));
      const target = document.querySelector('#messages');
      const fire = (kind) => target.dispatchEvent(new DragEvent(kind, { bubbles: true, cancelable: true, dataTransfer: transfer }));
      fire('dragenter');
      fire('dragover');
      const shown = !document.querySelector('#drop-zone').hidden;
      const accepted = !fire('drop');
      return { shown, accepted, hiddenAfter: document.querySelector('#drop-zone').hidden };
    },
    [name, text, type],
  );
}

/** Pastes a file into the message box (a ClipboardEvent carrying it, as a screenshot pasted would). */
async function pasteFile(p, name, bytes, type) {
  return p.page.evaluate(
    ([fileName, data, mime]) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], fileName, { type: mime }));
      const input = document.querySelector('#message-input');
      return !input.dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: transfer }));
    },
    [name, [...bytes], type],
  );
}

/** What the open conversation shows of its messages' files. */
function shownFiles(p) {
  return p.page.$$eval('#message-list .message', (nodes) =>
    nodes.map((li) => ({
      text: li.querySelector('.content')?.textContent ?? null,
      pending: li.classList.contains('pending'),
      images: [...li.querySelectorAll('.attachment-image img')].map((img) => {
        const box = img.getBoundingClientRect();
        return { alt: img.alt, natural: img.naturalWidth, width: Math.round(box.width), height: Math.round(box.height) };
      }),
      files: [...li.querySelectorAll('.attachment-file')].map((b) => ({
        name: b.querySelector('.file-name').textContent,
        size: b.querySelector('.file-size').textContent,
      })),
    })),
  );
}

/** Waits until every inline image of the open conversation has loaded (and there are `count`). */
async function waitForImages(p, count) {
  await p.page.waitForFunction(
    (n) => {
      const images = [...document.querySelectorAll('#message-list .attachment-image img')];
      return images.length === n && images.every((img) => img.complete && img.naturalWidth > 0);
    },
    count,
    { timeout: 10_000 },
  );
}

// ---------------------------------------------------------------- tests

describe('attachments', () => {
  let ann;
  let bob;

  before(async () => {
    ann = await newPerson('Ann');
    bob = await newPerson('Bob');
    await signup(ann);
    await signup(bob);
    await startDirect(ann, bob);
  });

  it('sends an image and a file; the other side sees the preview, opens the image and downloads the file', async () => {
    // The paperclip's file picker, with a PNG.
    await ann.page.setInputFiles('#file-input', { name: 'photo.png', mimeType: 'image/png', buffer: PHOTO });
    // A text file dropped on the conversation: the drop zone shows while it is dragged.
    const drop = await dropFile(ann, NOTES_NAME, NOTES.toString('utf8'), 'text/plain');
    assert.deepEqual(drop, { shown: true, accepted: true, hiddenAfter: true });
    await waitForChips(ann, 2, 'ready');
    assert.deepEqual(
      (await chips(ann)).map(({ name, size: s, state, error }) => ({ name, size: s, state, error })),
      [
        { name: 'photo.png', size: size(PHOTO.length), state: 'ready', error: '' },
        { name: NOTES_NAME, size: size(NOTES.length), state: 'ready', error: '' },
      ],
    );
    await ann.page.fill('#message-input', 'The photo and the list');
    await screenshot(ann, 'attachments-composer');
    await ann.page.press('#message-input', 'Enter');

    // The chips go with the message; Ann's own message shows its files at once.
    await ann.page.waitForSelector('#attachment-tray', { state: 'hidden' });
    await ann.page.waitForSelector('#message-list .message.mine[data-message-id] .attachment-file');
    await waitForImages(ann, 1);

    // Bob: the preview inline (sized from the image's width and height), the file as a chip.
    // The preview is held back a moment: its place is kept at its size while it comes.
    let release;
    const held = new Promise((ok) => (release = ok));
    await bob.page.route('**/api/v1/attachments/*/preview', async (route) => {
      await held;
      await route.continue();
    });
    await openConversation(bob, 'Ann');
    const box = await bob.page.waitForSelector('.attachment-image.loading');
    assert.deepEqual(await box.evaluate((n) => [n.getBoundingClientRect().width, n.getBoundingClientRect().height]), [320, 240]);
    release();
    await waitForImages(bob, 1);
    await bob.page.unrouteAll();
    const [message] = await shownFiles(bob);
    assert.deepEqual(message, {
      text: 'The photo and the list',
      pending: false,
      // The server's preview is 320 × 240; the page sizes it from 400 × 300.
      images: [{ alt: 'photo.png', natural: 320, width: 320, height: 240 }],
      files: [{ name: NOTES_NAME, size: size(NOTES.length) }],
    });
    await screenshot(bob, 'attachments-received');

    // Clicking the chip downloads the file, under its name, with the same bytes.
    const [download] = await Promise.all([bob.page.waitForEvent('download'), bob.page.click('.attachment-file')]);
    const saved = readFileSync(await download.path());
    assert.ok(saved.equals(NOTES), 'the download holds the bytes sent');
    assert.match(download.suggestedFilename(), /^notes .*\.txt$/);

    // Clicking the image opens the original in the lightbox.
    await bob.page.click('.attachment-image');
    await bob.page.waitForFunction(() => {
      const img = document.querySelector('#lightbox-image');
      return document.querySelector('#lightbox').open && img.complete && img.naturalWidth === 400;
    });
    assert.equal(await bob.page.textContent('#lightbox-name'), 'photo.png');
    await screenshot(bob, 'attachments-lightbox');
    await bob.page.keyboard.press('Escape');
    await bob.page.waitForFunction(() => !document.querySelector('#lightbox').open);
  });

  it('sends a pasted image alone: no empty text, the list says "📎"', async () => {
    assert.equal(await pasteFile(ann, 'pasted.png', TALL, 'image/png'), true, 'the paste was taken');
    await waitForChips(ann, 1, 'ready');
    assert.equal(await ann.page.inputValue('#message-input'), '');
    await ann.page.press('#message-input', 'Enter');
    await ann.page.waitForSelector('#attachment-tray', { state: 'hidden' });

    await waitForImages(bob, 2);
    const shown = await shownFiles(bob);
    assert.equal(shown.length, 2);
    // No text paragraph, and the portrait image 320 px high, its ratio kept.
    assert.deepEqual(shown[1], {
      text: null,
      pending: false,
      images: [{ alt: 'pasted.png', natural: 96, width: 96, height: 320 }],
      files: [],
    });
    // The list's last-message line names the file.
    const preview = (p, title) =>
      p.page.locator('.conversation-item', { has: p.page.locator('.item-title', { hasText: title }) }).locator('.item-preview');
    await bob.page.waitForFunction(() => [...document.querySelectorAll('.item-preview')].some((n) => n.textContent === '📎 pasted.png'));
    assert.equal(await preview(bob, 'Ann').textContent(), '📎 pasted.png');
    assert.equal(await preview(ann, 'Bob').textContent(), 'You: 📎 pasted.png');

    // After a reload the history brings the files again.
    await bob.page.reload();
    await openConversation(bob, 'Ann');
    await waitForImages(bob, 2);
    assert.deepEqual((await shownFiles(bob)).map((m) => m.files), [[{ name: NOTES_NAME, size: size(NOTES.length) }], []]);
  });

  it('says why an upload was refused on its chip, and takes at most 10 files', async () => {
    // Past the server's limit (CHAT_MAX_UPLOAD_BYTES).
    await ann.page.setInputFiles('#file-input', { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(LIMIT + 50_000, 7) });
    await waitForChips(ann, 1, 'failed');
    const [refused] = await chips(ann);
    assert.equal(refused.name, 'huge.bin');
    assert.match(refused.error, /at most 293 KB/);
    await screenshot(ann, 'attachments-refused');
    // Sending now sends nothing (no text, no file ready).
    await ann.page.press('#message-input', 'Enter');
    await ann.page.click('#attachment-tray .upload-remove');
    await ann.page.waitForSelector('#attachment-tray', { state: 'hidden' });

    // Eleven files: ten are taken, and the page says so.
    const many = Array.from({ length: 11 }, (_, i) => ({ name: `f${i + 1}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`file ${i + 1}\n`) }));
    await ann.page.setInputFiles('#file-input', many);
    await waitForChips(ann, 10, 'ready');
    assert.match(await ann.page.textContent('#attachment-hint'), /at most 10 files: 1 file was not added/);
    assert.deepEqual((await chips(ann)).map((c) => c.name), many.slice(0, 10).map((f) => f.name));
    // Removing one makes room for another.
    await ann.page.click('#attachment-tray .upload:first-child .upload-remove');
    await ann.page.setInputFiles('#file-input', [many[10]]);
    await waitForChips(ann, 10, 'ready');
    assert.equal((await chips(ann))[9].name, 'f11.txt');
    await ann.page.press('#message-input', 'Enter');
    await bob.page.waitForFunction(() => document.querySelectorAll('#message-list .message')[2]?.querySelectorAll('.attachment-file').length === 10);
    assert.deepEqual(
      (await shownFiles(bob))[2].files.map((f) => f.name),
      [...many.slice(1, 10), many[10]].map((f) => f.name),
    );
  });

  it("shows an upload's progress, and a send waits for its files", async () => {
    // Slow uploads down (DevTools network throttling) to watch one.
    const cdp = await ann.context.newCDPSession(ann.page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 64 * 1024 });
    const slow = Buffer.alloc(256 * 1024, 'slow upload\n');
    try {
      await ann.page.setInputFiles('#file-input', { name: 'slow.txt', mimeType: 'text/plain', buffer: slow });
      await ann.page.waitForFunction(() => {
        const bar = document.querySelector('#attachment-tray .upload[data-state="uploading"] .upload-progress');
        return bar && !bar.hidden && bar.value > 0 && bar.value < 100;
      });
      await screenshot(ann, 'attachments-uploading');
      // Enter while it uploads: the send waits, and says so.
      await ann.page.fill('#message-input', 'Sent once uploaded');
      await ann.page.press('#message-input', 'Enter');
      assert.match(await ann.page.textContent('#attachment-hint'), /will be sent when the files are uploaded/);
      assert.equal((await chips(ann))[0].state, 'uploading');
      assert.equal(await ann.page.locator('#message-list .message', { hasText: 'Sent once uploaded' }).count(), 0);
    } finally {
      // (Lifted once the upload has gone through: the wait below needs no throttle.)
      await ann.page.waitForSelector('#attachment-tray', { state: 'hidden', timeout: 20_000 });
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
    }
    await bob.page.waitForFunction(() =>
      [...document.querySelectorAll('#message-list .message')].some(
        (li) => li.querySelector('.content')?.textContent === 'Sent once uploaded' && li.querySelector('.attachment-file .file-name')?.textContent === 'slow.txt',
      ),
    );
    const last = (await shownFiles(bob)).at(-1);
    assert.deepEqual(last.files, [{ name: 'slow.txt', size: '256 KB' }]);
  });
});
