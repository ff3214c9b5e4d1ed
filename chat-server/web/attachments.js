// Files in messages. In the composer: the paperclip (a file picker),
// files dropped on the conversation and files pasted into the message
// box; each one uploads at once (`POST /attachments`, its progress on a
// chip above the message box) and the next send carries the ids of those
// ready. In messages: an image with a preview shows it inline, sized from
// its width and height, and opens the full image in a lightbox; any other
// file is a chip that downloads it. Files are served only with the token,
// which an `<img src>` cannot send, so every one is fetched and shown
// through an object URL. File names are the sender's: text only.

import { ApiError, apiUrl, fetchBlob, refresh, session } from './api.js';
import { $, el, sentence } from './dom.js';
import { icon } from './message.js';

/** The most files one message carries (the server refuses more). */
export const MAX_FILES = 10;
/** The longer side of an inline image, at most (the server's previews are 320 px). */
const INLINE_MAX = 320;
const UPLOADS_KEY = 'chat.uploads';

// ---------------------------------------------------------------- words

/** A size in bytes for people: `512 B`, `12 KB`, `3.4 MB`. */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  if (shown >= 1024 && unit < units.length - 1) return `1 ${units[unit + 1]}`;
  return `${shown} ${units[unit]}`;
}

/** What stands for a message's files where text would be: `📎 photo.png`, `📎 photo.png and 2 more`. */
export function filesLabel(list) {
  if (!list?.length) return '';
  return '📎 ' + list[0].filename + (list.length > 1 ? ` and ${list.length - 1} more` : '');
}

/** A message's text, or its files when it has none (the list's preview, the reply bar, dialogs). */
export function textOrFiles(message) {
  return message.content || filesLabel(message.attachments);
}

/** Whether an attachment shows inline: a measured image with a preview. */
function inline(a) {
  return Boolean(a.preview && a.width > 0 && a.height > 0);
}

/** An image's size fitted in `max` × `max`, its aspect ratio kept. */
function fitted(a, max) {
  const scale = Math.min(1, max / Math.max(a.width, a.height));
  return [Math.max(1, Math.round(a.width * scale)), Math.max(1, Math.round(a.height * scale))];
}

/** Why an upload or a download failed, as a sentence. */
function reason(err) {
  if (err.code === 'ATTACHMENT_TOO_LARGE') {
    // The server counts in bytes; people read "25 MB".
    return sentence(err.message.replace(/(\d+) bytes/, (_, n) => formatSize(Number(n))));
  }
  return sentence(err.message);
}

// ---------------------------------------------------------------- object URLs

/** attachment_id → the attachment, for every file shown (clicks find theirs here). */
const known = new Map();
/** `preview:ID` or `file:ID` → a promise of an object URL; one per file while the page lives. */
const urls = new Map();
/** The same, once resolved, so a message drawn again shows its image at once. */
const resolved = new Map();

function objectUrl(key, path) {
  let url = urls.get(key);
  if (!url) {
    url = fetchBlob(path).then((blob) => {
      const made = URL.createObjectURL(blob);
      resolved.set(key, made);
      return made;
    });
    urls.set(key, url);
    // A failed fetch is tried again the next time the file is shown.
    url.catch(() => urls.delete(key));
  }
  return url;
}

/** An own upload's bytes are at hand: its preview and original need no request. */
function seed(a, file) {
  const made = URL.createObjectURL(file);
  for (const key of ['preview:' + a.attachment_id, 'file:' + a.attachment_id]) {
    urls.set(key, Promise.resolve(made));
    resolved.set(key, made);
  }
}

/** Revokes every object URL (on logout). */
export function forgetFiles() {
  for (const url of new Set(resolved.values())) URL.revokeObjectURL(url);
  urls.clear();
  resolved.clear();
  known.clear();
}

// ---------------------------------------------------------------- in messages

/** A message's files, in the order they were sent: images inline, other files as chips. */
export function filesNode(list) {
  for (const a of list) known.set(a.attachment_id, a);
  return el('div', { class: 'attachments' }, ...list.map((a) => (inline(a) ? imageNode(a) : fileNode(a))));
}

function imageNode(a) {
  const id = a.attachment_id;
  const [width, height] = fitted(a, INLINE_MAX);
  const img = el('img', { width: String(width), height: String(height), alt: a.filename, decoding: 'async' });
  const node = el(
    'button',
    {
      type: 'button',
      class: 'attachment-image',
      dataset: { action: 'open-attachment', attachmentId: id },
      title: `${a.filename} (${formatSize(a.size)})`,
      'aria-label': `Open the image ${a.filename}`,
    },
    img,
  );
  // The box holds the image's place while it loads, at its size and ratio
  // (set through the CSSOM, which the policy allows; no style attribute).
  node.style.width = `${width}px`;
  node.style.aspectRatio = `${width} / ${height}`;
  const key = 'preview:' + id;
  if (resolved.has(key)) {
    img.src = resolved.get(key);
  } else {
    node.classList.add('loading');
    objectUrl(key, `attachments/${id}/preview`).then(
      (url) => {
        img.src = url;
        node.classList.remove('loading');
      },
      () => {
        node.classList.remove('loading');
        node.classList.add('broken');
        node.title = `${a.filename}: the preview could not be loaded`;
      },
    );
  }
  return node;
}

function fileNode(a) {
  return el(
    'button',
    {
      type: 'button',
      class: 'attachment-file',
      dataset: { action: 'download-attachment', attachmentId: a.attachment_id },
      title: `Download ${a.filename}`,
    },
    el('span', { class: 'file-icon', 'aria-hidden': 'true' }, icon('file')),
    el('span', { class: 'file-name', text: a.filename }),
    el('span', { class: 'file-size', text: formatSize(a.size) }),
  );
}

/** Marks every node of attachment `id` busy (or not) while its bytes come. */
function busy(id, on) {
  for (const node of document.querySelectorAll(`[data-attachment-id="${CSS.escape(id)}"]`)) {
    node.classList.toggle('busy', on);
    if (on) node.setAttribute('aria-busy', 'true');
    else node.removeAttribute('aria-busy');
  }
}

/** Downloads a file under its name: fetched with the token, saved through a temporary link. */
export async function download(id, notify) {
  const a = known.get(id);
  if (!a) return;
  busy(id, true);
  try {
    // An image opened in the lightbox is held already; other files are
    // not kept (they may be large).
    const held = resolved.get('file:' + id);
    const url = held || URL.createObjectURL(await fetchBlob(`attachments/${id}`));
    const link = el('a', { href: url, download: a.filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    if (!held) setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) {
    notify(`${a.filename} could not be downloaded: ${reason(err).charAt(0).toLowerCase()}${reason(err).slice(1)}`);
  } finally {
    busy(id, false);
  }
}

// ---------------------------------------------------------------- the lightbox

let shownInLightbox = null;

/** Opens an image in the lightbox: its preview at once, the original when it has come. */
export async function openImage(id, notify) {
  const a = known.get(id);
  const dialog = $('#lightbox');
  if (!a || !dialog) return;
  const img = $('#lightbox-image');
  shownInLightbox = id;
  $('#lightbox-name').textContent = a.filename;
  $('#lightbox-size').textContent = `${a.width} × ${a.height} · ${formatSize(a.size)}`;
  $('#lightbox-state').textContent = '';
  img.alt = a.filename;
  img.width = a.width;
  img.height = a.height;
  const preview = resolved.get('preview:' + id);
  if (preview) img.src = preview;
  else img.removeAttribute('src');
  if (!dialog.open) dialog.showModal();
  const original = 'file:' + id;
  if (resolved.has(original)) {
    img.src = resolved.get(original);
    return;
  }
  dialog.classList.add('loading');
  try {
    const url = await objectUrl(original, `attachments/${id}`);
    if (shownInLightbox === id) img.src = url;
  } catch (err) {
    if (shownInLightbox === id) $('#lightbox-state').textContent = `The image could not be loaded: ${reason(err)}`;
    else notify(reason(err));
  } finally {
    if (shownInLightbox === id) dialog.classList.remove('loading');
  }
}

/** Wires the lightbox's buttons: close (and a click beside the image), download. */
export function lightbox(notify) {
  const dialog = $('#lightbox');
  $('#lightbox-close').addEventListener('click', () => dialog.close());
  $('#lightbox-download').addEventListener('click', () => shownInLightbox && download(shownInLightbox, notify));
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => {
    shownInLightbox = null;
    $('#lightbox-image').removeAttribute('src');
  });
}

// ---------------------------------------------------------------- uploads kept for the outbox

/**
 * Uploads this tab sent or is sending, by id: a send waiting in the
 * outbox across a reload shows its files again from here.
 */
function keptUploads() {
  try {
    return JSON.parse(sessionStorage.getItem(UPLOADS_KEY)) || {};
  } catch {
    return {};
  }
}

function keepUpload(a) {
  const kept = keptUploads();
  kept[a.attachment_id] = a;
  sessionStorage.setItem(UPLOADS_KEY, JSON.stringify(kept));
}

/** The attachments of an outbox frame's ids, as far as this tab knows them. */
export function uploadsOf(ids) {
  const kept = keptUploads();
  return (ids || []).map((id) => kept[id] || { attachment_id: id, filename: 'Attachment', content_type: '', size: NaN, preview: false });
}

/** Forgets kept uploads once their send was answered. */
export function settleUploads(ids) {
  if (!ids?.length) return;
  const kept = keptUploads();
  for (const id of ids) delete kept[id];
  sessionStorage.setItem(UPLOADS_KEY, JSON.stringify(kept));
}

// ---------------------------------------------------------------- the composer's files

/**
 * The files chosen for the next message: chips above the message box,
 * each uploading at once. `enabled()` says whether files may be added
 * now (a conversation is open and the composer shown).
 */
export class Drafts {
  constructor({ enabled }) {
    this.enabled = enabled;
    /** {key, file, name, size, state: 'uploading'|'ready'|'failed', loaded, error, attachment, xhr, node, thumb} */
    this.drafts = [];
    this.waiters = [];
    this.box = $('#attachments-draft');
    this.tray = $('#attachment-tray');
    this.hint = $('#attachment-hint');
    this.picker = $('#file-input');
    $('#attach').append(icon('attach'));
    $('#attach').addEventListener('click', () => this.picker.click());
    this.picker.addEventListener('change', () => {
      this.add([...this.picker.files]);
      // Choosing the same file again fires `change` again.
      this.picker.value = '';
    });
    $('#message-input').addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (!files.length || !this.enabled()) return;
      event.preventDefault();
      this.add(files);
    });
    this.dropTargets($('#conversation'), $('#drop-zone'));
    this.show();
  }

  /** Files dragged over the conversation show the drop zone; dropped, they are added. */
  dropTargets(pane, zone) {
    const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes('Files');
    let depth = 0;
    const hide = () => {
      depth = 0;
      zone.hidden = true;
    };
    pane.addEventListener('dragenter', (event) => {
      if (!carriesFiles(event) || !this.enabled()) return;
      event.preventDefault();
      depth++;
      zone.hidden = false;
    });
    pane.addEventListener('dragover', (event) => {
      if (!carriesFiles(event) || !this.enabled()) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    });
    pane.addEventListener('dragleave', (event) => {
      if (!carriesFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) hide();
    });
    pane.addEventListener('drop', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      hide();
      if (this.enabled()) this.add([...event.dataTransfer.files]);
    });
    // A file dropped anywhere else must not replace the page.
    for (const type of ['dragover', 'drop']) {
      window.addEventListener(type, (event) => {
        if (carriesFiles(event)) event.preventDefault();
      });
    }
    window.addEventListener('dragend', hide);
  }

  /** How many files the next message would carry (failed uploads do not count). */
  get count() {
    return this.drafts.filter((d) => d.state !== 'failed').length;
  }

  get uploading() {
    return this.drafts.some((d) => d.state === 'uploading');
  }

  /** The attachments ready to send, in the order they were added. */
  get ready() {
    return this.drafts.filter((d) => d.state === 'ready').map((d) => d.attachment);
  }

  /** Adds files (at most `MAX_FILES` in all) and starts uploading each. */
  add(files) {
    if (!files.length) return;
    const room = Math.max(0, MAX_FILES - this.count);
    const taken = files.slice(0, room);
    for (const file of taken) {
      const draft = {
        key: crypto.randomUUID(),
        file,
        // The server wants 1 to 255 characters; a pasted image may have no name.
        name: file.name || 'pasted-file',
        size: file.size,
        state: 'uploading',
        loaded: 0,
        error: '',
        attachment: null,
        xhr: null,
      };
      this.drafts.push(draft);
      draft.node = this.chip(draft);
      this.tray.append(draft.node);
      this.upload(draft);
    }
    const left = files.length - taken.length;
    this.say(
      left
        ? `A message can carry at most ${MAX_FILES} files: ${left === 1 ? '1 file was' : `${left} files were`} not added.`
        : '',
    );
    this.show();
  }

  /** Takes a file out (cancelling its upload); an upload never sent is removed by the server's sweep. */
  remove(draft) {
    if (draft.state === 'uploading') draft.xhr?.abort();
    if (draft.attachment) settleUploads([draft.attachment.attachment_id]);
    this.drop(draft);
    this.say('');
    this.show();
    this.settle();
  }

  drop(draft) {
    this.drafts = this.drafts.filter((d) => d !== draft);
    draft.node.remove();
    if (draft.thumb) URL.revokeObjectURL(draft.thumb);
  }

  /** Empties the tray (the files went with a message). */
  clear() {
    for (const draft of [...this.drafts]) {
      if (draft.state === 'uploading') draft.xhr?.abort();
      this.drop(draft);
    }
    this.say('');
    this.show();
  }

  /** Resolves once no file is uploading: true when none of those shown failed. */
  settled() {
    if (!this.uploading) return Promise.resolve(!this.drafts.some((d) => d.state === 'failed'));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  settle() {
    if (this.uploading) return;
    const clean = !this.drafts.some((d) => d.state === 'failed');
    for (const resolve of this.waiters.splice(0)) resolve(clean);
  }

  /** A line under the chips: the limit, or a send waiting for its files. */
  say(text) {
    this.hint.textContent = text;
    this.show();
  }

  show() {
    this.tray.hidden = this.drafts.length === 0;
    this.hint.hidden = !this.hint.textContent;
    this.box.classList.toggle('empty', this.tray.hidden && this.hint.hidden);
  }

  /** Hides the tray with the composer (a gate) and shows it again. */
  setVisible(visible) {
    this.box.hidden = !visible;
  }

  chip(draft) {
    const image = draft.file.type.startsWith('image/');
    if (image) draft.thumb = URL.createObjectURL(draft.file);
    const remove = el('button', {
      type: 'button',
      class: 'upload-remove',
      'aria-label': `Remove ${draft.name}`,
      title: 'Remove',
      text: '×',
      onclick: () => this.remove(draft),
    });
    const node = el(
      'li',
      { class: 'upload', dataset: { state: draft.state } },
      image
        ? el('img', { class: 'upload-thumb', src: draft.thumb, alt: '' })
        : el('span', { class: 'upload-thumb file-icon', 'aria-hidden': 'true' }, icon('file')),
      el(
        'span',
        { class: 'upload-main' },
        el('span', { class: 'upload-name', title: draft.name, text: draft.name }),
        el('span', { class: 'upload-size', text: formatSize(draft.size) }),
        el('progress', { class: 'upload-progress', max: '100', value: '0', 'aria-label': `Uploading ${draft.name}` }),
        el('span', { class: 'upload-error', role: 'alert' }),
      ),
      remove,
    );
    return node;
  }

  /** Shows a draft's state on its chip. */
  update(draft) {
    const node = draft.node;
    node.dataset.state = draft.state;
    const progress = $('.upload-progress', node);
    progress.value = draft.size ? Math.round((100 * draft.loaded) / draft.size) : 0;
    progress.hidden = draft.state !== 'uploading';
    $('.upload-error', node).textContent = draft.error;
    node.title = draft.state === 'failed' ? `Not uploaded: ${draft.error}` : '';
  }

  /** Uploads a draft's bytes with XMLHttpRequest, whose upload events drive the progress bar. */
  upload(draft, retried = false) {
    const current = session.get();
    if (!current) {
      this.failed(draft, 'Not logged in.');
      return;
    }
    const xhr = new XMLHttpRequest();
    draft.xhr = xhr;
    xhr.open('POST', apiUrl('attachments?filename=' + encodeURIComponent(draft.name)));
    xhr.setRequestHeader('authorization', 'Bearer ' + current.accessToken);
    xhr.upload.addEventListener('progress', (event) => {
      draft.loaded = event.loaded;
      if (event.lengthComputable) draft.size = event.total;
      this.update(draft);
    });
    xhr.addEventListener('load', async () => {
      if (!this.drafts.includes(draft)) return;
      let json = null;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        json = null;
      }
      if (xhr.status === 401 && !retried) {
        try {
          await refresh();
          this.upload(draft, true);
        } catch (err) {
          this.failed(draft, reason(err));
        }
        return;
      }
      if (xhr.status !== 201 || !json?.attachment_id) {
        this.failed(draft, reason(new ApiError(xhr.status, json)));
        return;
      }
      draft.state = 'ready';
      draft.loaded = draft.size;
      draft.attachment = json;
      keepUpload(json);
      if (json.preview) seed(json, draft.file);
      this.update(draft);
      this.settle();
    });
    // The server answers a body past its limit before reading it, and may
    // close the connection while the browser still sends: no answer then.
    xhr.addEventListener('error', () => this.failed(draft, 'The upload failed: the connection was lost. The file may be too large.'));
    xhr.addEventListener('timeout', () => this.failed(draft, 'The upload took too long.'));
    this.update(draft);
    xhr.send(draft.file);
  }

  failed(draft, message) {
    if (!this.drafts.includes(draft)) return;
    draft.state = 'failed';
    draft.error = message;
    this.update(draft);
    this.settle();
  }
}
