// Message search (`GET /search/messages`): the box at the top of the
// sidebar, with "Only in <the open conversation>" under it while one is
// open, the results in place of the conversation list (conversation,
// sender, time, and the snippet with the matched words marked), "More
// results", and a click that opens the conversation at the message. A
// search of only very common words comes latest first (`ranked: false`)
// in one conversation, and is refused across all (SEARCH_TOO_BROAD, whose
// message says to search one conversation: the box below does).

import { api } from './api.js';
import { $, el, fullTime, sentence, shortTime } from './dom.js';

const PAGE = 20;

/**
 * The snippet as nodes: the server's `highlights` are `[start, end)`
 * offsets in characters (code points, not UTF-16 units), and each range
 * becomes a `<mark>` holding text. No markup is ever parsed.
 */
export function snippetNodes({ text, highlights }) {
  const chars = [...text];
  const nodes = [];
  let at = 0;
  for (const [start, end] of [...highlights].sort((a, b) => a[0] - b[0])) {
    if (start < at || end <= start || end > chars.length) continue;
    if (start > at) nodes.push(chars.slice(at, start).join(''));
    nodes.push(el('mark', { text: chars.slice(start, end).join('') }));
    at = end;
  }
  if (at < chars.length) nodes.push(chars.slice(at).join(''));
  return nodes;
}

/**
 * Wires the search box. `titleOf(conversationId)` names a conversation,
 * `nameOf(userId)` a sender (`me()` is the user), and `open(conversationId,
 * messageId)` shows a result.
 */
export function messageSearch({ me, titleOf, nameOf, open }) {
  const form = $('#message-search-form');
  const input = $('#message-search');
  const error = $('#message-search-error');
  const panel = $('#message-results');
  const list = $('#message-result-list');
  const more = $('#more-results');
  const sidebar = $('.sidebar');
  const hereLabel = $('#message-search-here-label');
  const here = $('#message-search-here');
  let query = '';
  let offset = 0;
  let run = 0;
  // The open conversation ("Only in ..."), and the one the shown results
  // were searched in (null: all).
  let openId = null;
  let scope = null;

  function close() {
    run++;
    query = '';
    error.textContent = '';
    panel.hidden = true;
    sidebar.classList.remove('searching');
    list.replaceChildren();
  }

  async function fetchPage() {
    const mine = ++run;
    more.disabled = true;
    const params = new URLSearchParams({ q: query, limit: String(PAGE), offset: String(offset) });
    if (scope) params.set('conversation_id', scope);
    try {
      const page = await api('GET', `search/messages?${params}`);
      if (mine !== run) return;
      error.textContent = '';
      if (offset === 0) list.replaceChildren();
      list.append(...page.results.map(resultItem));
      offset += page.results.length;
      const where = scope ? ` in ${titleOf(scope)}` : '';
      const order = page.ranked ? '' : ', latest first';
      $('#message-results-summary').textContent = offset
        ? `${offset}${page.has_more ? '+' : ''} ${offset === 1 ? 'message' : 'messages'} with “${query}”${where}${order}`
        : `No messages with “${query}”${where}.`;
      more.hidden = !page.has_more;
      panel.hidden = false;
      sidebar.classList.add('searching');
    } catch (err) {
      if (mine !== run) return;
      // INVALID_QUERY (no word, too many, too long) and the like, under the box.
      error.textContent = sentence(err.message);
      input.setAttribute('aria-invalid', 'true');
    } finally {
      more.disabled = false;
    }
  }

  const senderName = (id) => (id === me() ? 'You' : nameOf(id));

  function resultItem({ message, snippet }) {
    return el(
      'li',
      {},
      el(
        'button',
        {
          type: 'button',
          class: 'message-result',
          dataset: { conversationId: message.conversation_id, messageId: message.message_id, senderId: message.sender_id },
          onclick: () => open(message.conversation_id, message.message_id),
        },
        el(
          'span',
          { class: 'result-head' },
          el('span', { class: 'result-conversation', text: titleOf(message.conversation_id) }),
          el('time', { datetime: message.created_at, title: fullTime(message.created_at), text: shortTime(message.created_at) }),
        ),
        el('span', { class: 'result-sender', text: senderName(message.sender_id) }),
        el('span', { class: 'result-snippet' }, ...snippetNodes(snippet)),
      ),
    );
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    input.removeAttribute('aria-invalid');
    query = input.value;
    offset = 0;
    scope = here.checked && openId ? openId : null;
    fetchPage();
  });
  here.addEventListener('change', () => {
    // Searching again in the new scope, when there is a search to redo.
    if (input.value) form.requestSubmit();
  });
  input.addEventListener('input', () => {
    input.removeAttribute('aria-invalid');
    if (!input.value) close();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      input.value = '';
      close();
    }
  });
  more.addEventListener('click', fetchPage);
  $('#close-results').addEventListener('click', () => {
    input.value = '';
    close();
    input.focus();
  });

  function showHere() {
    hereLabel.hidden = !openId;
    if (openId) $('#message-search-here-name').textContent = titleOf(openId);
  }

  return {
    /** The conversation now open (null: none), which "Only in ..." names. */
    setOpen(id) {
      openId = id;
      if (!id) here.checked = false;
      showHere();
    },
    /** Redraws the names in the results (a sender or conversation learnt later). */
    refresh() {
      showHere();
      for (const button of list.querySelectorAll('.message-result')) {
        button.querySelector('.result-conversation').textContent = titleOf(button.dataset.conversationId);
        button.querySelector('.result-sender').textContent = senderName(button.dataset.senderId);
      }
    },
  };
}
