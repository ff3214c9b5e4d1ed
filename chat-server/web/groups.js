// Groups: the "New group" dialog with member picking, and the members
// panel (add, remove, promote, who can post, leave) of the open group.

import { api } from './api.js';
import { $, clearFormErrors, debounce, el, showFormError } from './dom.js';
import { botBadge } from './message.js';

/** Wires a search box to a result list; `pick(user)` runs on a choice. */
export function userSearch(input, results, { me, exclude = () => new Set(), pick, label = 'Add' }) {
  const run = debounce(async () => {
    const q = input.value.trim();
    if (!q) {
      results.replaceChildren();
      results.hidden = true;
      return;
    }
    let users;
    try {
      users = (await api('GET', `users/search?q=${encodeURIComponent(q)}`)).users;
    } catch (err) {
      results.replaceChildren(el('li', { class: 'empty', text: err.message }));
      results.hidden = false;
      return;
    }
    const skip = exclude();
    const found = users.filter((u) => u.user_id !== me() && !skip.has(u.user_id));
    results.replaceChildren(
      ...(found.length
        ? found.map((u) =>
            el(
              'li',
              {},
              el(
                'button',
                { type: 'button', class: 'user-result', dataset: { userId: u.user_id, username: u.username }, onclick: () => pick(u) },
                el('span', { class: 'user-name', text: u.display_name || u.username }),
                el('span', { class: 'user-handle', text: '@' + u.username }),
                el('span', { class: 'action', text: label }),
              ),
            ),
          )
        : [el('li', { class: 'empty', text: 'Nobody found.' })]),
    );
    results.hidden = false;
  }, 200);
  input.addEventListener('input', run);
  return () => {
    input.value = '';
    results.replaceChildren();
  };
}

/** The "New group" dialog. `created(groupId)` runs after creation. */
export function groupDialog({ me, created }) {
  const dialog = $('#group-dialog');
  const form = $('#group-form');
  const chips = $('#group-chips');
  const chosen = new Map();

  const renderChips = () =>
    chips.replaceChildren(
      ...[...chosen.values()].map((u) =>
        el(
          'li',
          { class: 'chip' },
          el('span', { text: u.display_name || u.username }),
          el('button', {
            type: 'button',
            'aria-label': `Remove ${u.username}`,
            text: '×',
            onclick: () => {
              chosen.delete(u.user_id);
              renderChips();
            },
          }),
        ),
      ),
    );

  const reset = userSearch($('#group-member-search'), $('#group-member-results'), {
    me,
    exclude: () => new Set(chosen.keys()),
    pick: (u) => {
      chosen.set(u.user_id, u);
      renderChips();
      reset();
      $('#group-member-search').focus();
    },
  });

  $('#new-group').addEventListener('click', () => {
    form.reset();
    chosen.clear();
    renderChips();
    reset();
    clearFormErrors(form);
    dialog.showModal();
    form.name.focus();
  });
  $('#group-cancel').addEventListener('click', () => dialog.close());

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const button = $('#group-create');
    button.disabled = true;
    try {
      const group = await api('POST', 'groups', { name: form.name.value, member_ids: [...chosen.keys()] });
      dialog.close();
      await created(group.group_id);
    } catch (err) {
      showFormError(form, err);
    } finally {
      button.disabled = false;
    }
  });
}

/** The members panel of the open group. */
export class MembersPanel {
  /** `changed(thread)` runs after a change; `left(groupId)` after leaving. */
  constructor({ me, changed, left }) {
    this.me = me;
    this.changed = changed;
    this.left = left;
    this.thread = null;
    this.panel = $('#members-panel');
    this.error = $('#members-error');
    this.resetSearch = userSearch($('#member-search'), $('#member-results'), {
      me,
      exclude: () => new Set((this.thread?.members || []).map((m) => m.user_id)),
      pick: (u) => this.act(() => api('POST', `groups/${this.thread.id}/members`, { user_ids: [u.user_id] })),
    });
    $('#close-members').addEventListener('click', () => this.close());
    // Who can post (owner and admins set it): everyone, or the owner and admins.
    $('#posting').addEventListener('change', (event) => {
      const posting = event.target.value;
      const thread = this.thread;
      this.act(async () => {
        const group = await api('PATCH', `groups/${thread.id}`, { posting });
        thread.summary.posting = group.posting;
      });
    });
    $('#leave-group').addEventListener('click', () => {
      const id = this.thread.id;
      this.act(() => api('DELETE', `groups/${id}/members/${me()}`), () => this.left(id));
    });
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  open(thread) {
    this.thread = thread;
    this.panel.hidden = false;
    this.error.textContent = '';
    this.resetSearch();
    this.render();
  }

  close() {
    this.panel.hidden = true;
    this.thread = null;
  }

  /** Runs a change, reloads the members, and reports a refusal in the panel. */
  async act(change, after) {
    this.error.textContent = '';
    const thread = this.thread;
    try {
      await change();
      if (after) {
        this.close();
        after();
        return;
      }
      this.resetSearch();
      await thread.loadMembers(this.me());
      this.changed(thread);
    } catch (err) {
      this.error.textContent = err.message;
      // Controls back to the group's state (a refused "who can post", say).
      this.render();
    }
  }

  render() {
    const thread = this.thread;
    if (!thread) return;
    const me = this.me();
    const myRole = (thread.members || []).find((m) => m.user_id === me)?.role;
    const canRemove = (m) => m.user_id !== me && (myRole === 'owner' || (myRole === 'admin' && m.role === 'member'));
    const manages = myRole === 'owner' || myRole === 'admin';
    $('#add-members').hidden = !manages;
    const posting = thread.summary.posting || 'everyone';
    $('#posting').hidden = !manages;
    for (const radio of $('#posting').querySelectorAll('input')) radio.checked = radio.value === posting;
    $('#posting-note').hidden = manages || posting !== 'admins';
    $('#members').replaceChildren(
      ...(thread.members || []).map((m) =>
        el(
          'li',
          { class: 'member', dataset: { userId: m.user_id, username: m.username } },
          el(
            'span',
            { class: 'user-name' },
            (m.display_name || m.username) + (m.user_id === me ? ' (you)' : ''),
            m.is_bot ? botBadge() : null,
          ),
          el('span', { class: 'role', text: m.role }),
          myRole === 'owner' && m.user_id !== me
            ? el('button', {
                type: 'button',
                class: 'secondary small',
                text: m.role === 'admin' ? 'Make member' : 'Make admin',
                onclick: () =>
                  this.act(() =>
                    api('PATCH', `groups/${thread.id}/members/${m.user_id}`, { role: m.role === 'admin' ? 'member' : 'admin' }),
                  ),
              })
            : null,
          canRemove(m)
            ? el('button', {
                type: 'button',
                class: 'danger small',
                text: 'Remove',
                'aria-label': `Remove ${m.username}`,
                onclick: () => this.act(() => api('DELETE', `groups/${thread.id}/members/${m.user_id}`)),
              })
            : null,
        ),
      ),
    );
  }
}
