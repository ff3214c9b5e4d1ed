// @-autocomplete in the composer: typing `@` and the start of a member's
// username or display name lists the matching members above the composer;
// Up/Down choose, Enter or Tab (or a click) put `@username ` in the text,
// Escape closes the list. Names are text nodes only.

import { el } from './dom.js';

const SHOWN = 6;

/**
 * Wires `input` (the composer) to `list` (an empty `<ul>`). `members()`
 * gives the people who can be mentioned ({user_id, username,
 * display_name}), the user left out.
 */
export function mentionAutocomplete(input, list, members) {
  let found = [];
  let active = 0;
  let start = -1;

  const close = () => {
    found = [];
    start = -1;
    list.hidden = true;
    list.replaceChildren();
    input.removeAttribute('aria-activedescendant');
    input.setAttribute('aria-expanded', 'false');
  };

  const render = () => {
    list.replaceChildren(
      ...found.map((u, i) =>
        el(
          'li',
          {
            id: 'mention-option-' + i,
            role: 'option',
            class: 'suggestion' + (i === active ? ' active' : ''),
            'aria-selected': i === active ? 'true' : 'false',
            dataset: { username: u.username },
            // mousedown, not click: the composer keeps its focus.
            onmousedown: (event) => {
              event.preventDefault();
              pick(i);
            },
          },
          el('span', { class: 'user-name', text: u.display_name || u.username }),
          el('span', { class: 'user-handle', text: '@' + u.username }),
        ),
      ),
    );
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    input.setAttribute('aria-activedescendant', 'mention-option-' + active);
  };

  const pick = (i) => {
    const u = found[i];
    if (!u) return;
    const caret = input.selectionStart;
    const before = input.value.slice(0, start) + '@' + u.username + ' ';
    input.value = before + input.value.slice(caret);
    input.setSelectionRange(before.length, before.length);
    close();
    input.focus();
  };

  /** Looks at the word before the caret: `@` and up to 50 username characters. */
  const update = () => {
    const caret = input.selectionStart;
    const match = /(^|[^A-Za-z0-9_.-])@([A-Za-z0-9_.-]{0,50})$/.exec(input.value.slice(0, caret));
    if (!match || caret !== input.selectionEnd) return close();
    const typed = match[2].toLowerCase();
    found = members()
      .filter(
        (u) =>
          u.username.toLowerCase().startsWith(typed) ||
          (u.display_name || '')
            .toLowerCase()
            .split(/\s+/)
            .some((w) => w.startsWith(typed)),
      )
      .slice(0, SHOWN);
    if (found.length === 0) return close();
    start = caret - match[2].length - 1;
    active = Math.min(active, found.length - 1);
    render();
  };

  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', list.id);
  input.addEventListener('input', () => {
    active = 0;
    update();
  });
  input.addEventListener('blur', close);
  input.addEventListener('click', update);

  return {
    get open() {
      return found.length > 0;
    },
    close,
    /** Handles a key of the composer while the list is open; true when it did. */
    key(event) {
      if (!found.length || event.isComposing) return false;
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        active = (active + (event.key === 'ArrowDown' ? 1 : found.length - 1)) % found.length;
        render();
      } else if (event.key === 'Enter' || event.key === 'Tab') {
        pick(active);
      } else if (event.key === 'Escape') {
        close();
      } else {
        return false;
      }
      event.preventDefault();
      return true;
    },
  };
}
