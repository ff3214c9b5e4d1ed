// What one message shows besides its marks: the quote of the message it
// answers, its text with @mentions picked out, "(edited)", the tombstone of
// a deleted message, reaction chips, the actions (reply, react, edit,
// delete, report), the emoji picker and the inline editor. Everything is built
// from text nodes (`el`), never from markup.

import { el, fullTime, shortTime } from './dom.js';

/** The reactions offered by the picker (the server takes any one emoji). */
export const EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '🔥'];

/** The quote of a message, as the server makes it: its first 100 characters. */
export function excerpt(content) {
  return [...(content || '')].slice(0, 100).join('');
}

/** A character a username may hold (see chat-core's mention parser). */
const nameChar = (c) => c !== undefined && /[A-Za-z0-9_.-]/.test(c);

/**
 * The `@name` tokens of `text`, as the server finds them: an `@` at the
 * start or after a character that cannot be part of a username, then 3 to
 * 50 username characters, a trailing `.` or `-` left out. Gives
 * `[{start, end, name}]` (`end` exclusive, `name` in lower case).
 */
export function mentionTokens(text) {
  const tokens = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '@' || nameChar(text[i - 1])) continue;
    let end = i + 1;
    while (end < text.length && nameChar(text[end])) end++;
    let name = text.slice(i + 1, end);
    name = name.replace(/[.-]+$/, '');
    if (name.length >= 3 && name.length <= 50) tokens.push({ start: i, end: i + 1 + name.length, name: name.toLowerCase() });
  }
  return tokens;
}

/**
 * The text of a message as nodes: `@name` of a member the server resolved
 * (in `names`: lower-case username → user id) becomes a highlighted span,
 * stronger when it is `me`; everything else stays plain text.
 */
export function textWithMentions(text, names, me) {
  const nodes = [];
  let at = 0;
  for (const token of mentionTokens(text)) {
    const userId = names.get(token.name);
    if (!userId) continue;
    if (token.start > at) nodes.push(text.slice(at, token.start));
    nodes.push(
      el('span', {
        class: 'mention' + (userId === me ? ' you' : ''),
        dataset: { userId },
        text: text.slice(token.start, token.end),
      }),
    );
    at = token.end;
  }
  if (at < text.length) nodes.push(text.slice(at));
  return nodes;
}

/** The quote of the message answered: its sender and excerpt, or "Deleted message". */
export function quoteNode(reply, senderName) {
  return el(
    'button',
    {
      type: 'button',
      class: 'quote' + (reply.deleted ? ' deleted' : ''),
      dataset: { action: 'quote', target: reply.message_id },
      title: 'Show the message answered',
    },
    el('span', { class: 'quote-sender', text: senderName }),
    // A message of files alone has no text to quote.
    el('span', { class: 'quote-text', text: reply.deleted ? 'Deleted message' : reply.excerpt || '📎 Files' }),
  );
}

/** Line icons of the actions (drawn here, so no icon font or emoji font is needed). */
const ICONS = {
  react: ['M12 21a9 9 0 1 1 0-18 9 9 0 0 1 0 18Z', 'M8 14c1 1.3 2.3 2 4 2s3-.7 4-2', 'M9 9.5h.01', 'M15 9.5h.01'],
  reply: ['M9 14 4 9l5-5', 'M4 9h10a6 6 0 0 1 6 6v4'],
  edit: ['M16.5 3.5a2.1 2.1 0 0 1 3 3L8 18l-4 1 1-4Z', 'M14.5 5.5l3 3'],
  delete: ['M4 7h16', 'M10 11v6', 'M14 11v6', 'M6 7l1 13h10l1-13', 'M9 7V4h6v3'],
  report: ['M5 21V4', 'M5 4h12l-2.5 4.5L17 13H5'],
  muted: ['M8.7 3.5A6 6 0 0 1 18 8c0 3 .6 5 1.3 6.3', 'M17 17H3s3-2 3-9c0-.7.1-1.4.3-2', 'M13.7 21a2 2 0 0 1-3.4 0', 'M3 3l18 18'],
  attach: ['M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5'],
  file: ['M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8Z', 'M14 2v6h6', 'M16 13H8', 'M16 17H8', 'M10 9H8'],
};

/** One of the line icons above, as an SVG element (built node by node, no markup). */
export function icon(name) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', width: '18', height: '18', fill: 'none', stroke: 'currentColor',
    'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true' })) {
    svg.setAttribute(k, v);
  }
  for (const d of ICONS[name]) {
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

function action(name, label) {
  return el('button', { type: 'button', class: 'action', dataset: { action: name }, title: label, 'aria-label': label }, icon(name));
}

/**
 * The parts of a message node, for `v` (the message as shown). `ctx`:
 * `{mine, isGroup, senderName, quoteName, names (username → id), me,
 * canEdit, canDelete, canReport, actionsOpen, pickerOpen, editor (an
 * element or null), files (the node of its attachments, or null)}`. Gives
 * `[line, reactions?, actions?, picker?]`; the caller appends the receipt
 * line. A message of files alone has no text paragraph.
 */
/** The mark beside a bot account's name (`is_bot` in its profile). */
export function botBadge() {
  return el('span', { class: 'bot-badge', title: 'An automated account', text: 'BOT' });
}

export function messageBody(v, ctx) {
  const deleted = Boolean(v.deleted_at);
  const files = deleted ? null : ctx.files;
  let body = null;
  if (deleted) body = el('p', { class: 'content tombstone', text: 'This message was deleted' });
  else if (ctx.editor) body = ctx.editor;
  else if (v.content || !files) body = el('p', { class: 'content' }, ...textWithMentions(v.content, ctx.names, ctx.me));
  const bubble = el(
    'div',
    { class: 'bubble' + (files && !body ? ' files-only' : '') },
    ctx.isGroup && !ctx.mine
      ? el('span', { class: 'sender' }, ctx.senderName, ctx.senderIsBot ? botBadge() : null)
      : null,
    !deleted && v.reply ? quoteNode(v.reply, ctx.quoteName) : null,
    files,
    body,
    el(
      'span',
      { class: 'meta' },
      !deleted && v.edited_at ? el('span', { class: 'edited', title: 'Edited ' + fullTime(v.edited_at), text: '(edited)' }) : null,
      el('time', { datetime: v.created_at, title: fullTime(v.created_at), text: shortTime(v.created_at) }),
      ctx.mine ? el('span', { class: 'mark', role: 'img' }) : null,
    ),
  );
  if (deleted) return [el('div', { class: 'line' }, bubble)];
  const more = el('button', {
    type: 'button',
    class: 'more',
    dataset: { action: 'more' },
    title: 'Message actions',
    'aria-label': 'Message actions',
    'aria-expanded': ctx.actionsOpen ? 'true' : 'false',
    text: '⋯',
  });
  const parts = [el('div', { class: 'line' }, bubble, ctx.editor ? null : more)];
  const reactions = v.reactions || [];
  if (reactions.length) {
    parts.push(
      el(
        'div',
        { class: 'reactions' },
        ...reactions.map((r) =>
          el(
            'button',
            {
              type: 'button',
              class: 'reaction' + (r.me ? ' mine' : ''),
              dataset: { action: 'chip', emoji: r.emoji },
              'aria-pressed': r.me ? 'true' : 'false',
              title: `${r.count} reacted with ${r.emoji}` + (r.me ? ' (you among them; click to take yours back)' : '; click to join'),
            },
            el('span', { class: 'emoji', text: r.emoji }),
            el('span', { class: 'count', text: String(r.count) }),
          ),
        ),
        el('button', { type: 'button', class: 'reaction add', dataset: { action: 'react' }, title: 'Add a reaction', 'aria-label': 'Add a reaction', text: '+' }),
      ),
    );
  }
  if (!ctx.editor) {
    parts.push(
      el(
        'div',
        { class: 'actions' + (ctx.actionsOpen ? ' open' : ''), role: 'toolbar', 'aria-label': 'Message actions' },
        action('react', 'React'),
        action('reply', 'Reply'),
        ctx.canEdit ? action('edit', 'Edit') : null,
        ctx.canDelete ? action('delete', 'Delete') : null,
        ctx.canReport ? action('report', 'Report') : null,
      ),
    );
  }
  if (ctx.pickerOpen) {
    parts.push(
      el(
        'div',
        { class: 'picker', role: 'group', 'aria-label': 'Pick a reaction' },
        ...EMOJI.map((emoji) => {
          const mine = reactions.some((r) => r.emoji === emoji && r.me);
          return el('button', {
            type: 'button',
            class: 'pick' + (mine ? ' mine' : ''),
            dataset: { action: 'pick', emoji },
            'aria-pressed': mine ? 'true' : 'false',
            'aria-label': 'React with ' + emoji,
            text: emoji,
          });
        }),
      ),
    );
  }
  return parts;
}

/** The inline editor of an own message: Enter saves, Escape cancels. */
export function editorNode(content) {
  const input = el('textarea', { class: 'edit-input', rows: '1', 'aria-label': 'Edit message' });
  input.value = content;
  return el(
    'form',
    { class: 'editor', dataset: { action: 'noop' } },
    input,
    el(
      'span',
      { class: 'editor-actions' },
      el('span', { class: 'hint', text: 'Enter to save · Esc to cancel' }),
      el('button', { type: 'button', class: 'secondary small', dataset: { action: 'edit-cancel' }, text: 'Cancel' }),
      el('button', { type: 'submit', class: 'primary small', text: 'Save' }),
    ),
  );
}
