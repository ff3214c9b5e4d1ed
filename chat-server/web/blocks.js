// The users this user blocked (`/users/me/blocks`): who they are, blocking
// and unblocking, and the "Blocked users" list of the settings view. A
// block stops direct messages both ways; the server refuses them with
// `USER_BLOCKED` (to the blocker) or `RECIPIENT_UNAVAILABLE` (to the other).

import { api } from './api.js';
import { $, el, shortTime } from './dom.js';

export class Blocks {
  /** `changed()` runs whenever the list changes (the page redraws what depends on it). */
  constructor({ changed }) {
    this.changed = changed;
    /** user_id → {user_id, username, display_name, blocked_at} */
    this.users = new Map();
    this.error = '';
  }

  has(userId) {
    return this.users.has(userId);
  }

  /** Fetches the list again (on start, on coming back to the tab, on `USER_BLOCKED`). */
  async load() {
    const { blocks } = await api('GET', 'users/me/blocks');
    const before = JSON.stringify([...this.users.keys()]);
    this.users = new Map(blocks.map((b) => [b.user_id, b]));
    if (JSON.stringify([...this.users.keys()]) !== before) this.changed();
  }

  /** Blocks `user` ({user_id, username, display_name}). */
  async block(user) {
    await api('PUT', `users/me/blocks/${user.user_id}`);
    this.users.set(user.user_id, { ...user, blocked_at: new Date().toISOString() });
    this.changed();
    // The server's own list has the time of the block.
    this.load().catch(() => {});
  }

  async unblock(userId) {
    await api('DELETE', `users/me/blocks/${userId}`);
    this.users.delete(userId);
    this.changed();
  }

  /** The settings view's "Blocked users" list, each with Unblock. */
  render() {
    const list = $('#blocked-users');
    const blocks = [...this.users.values()];
    $('#no-blocks').hidden = blocks.length > 0;
    $('#blocks-error').textContent = this.error;
    list.replaceChildren(
      ...blocks.map((b) =>
        el(
          'li',
          { class: 'member', dataset: { userId: b.user_id, username: b.username } },
          el('span', { class: 'user-name', text: b.display_name || b.username }),
          el('span', { class: 'user-handle', text: '@' + b.username }),
          el('span', { class: 'hint', title: new Date(b.blocked_at).toLocaleString(), text: 'since ' + shortTime(b.blocked_at) }),
          el('button', {
            type: 'button',
            class: 'secondary small',
            text: 'Unblock',
            'aria-label': `Unblock ${b.username}`,
            onclick: async () => {
              this.error = '';
              try {
                await this.unblock(b.user_id);
              } catch (err) {
                this.error = err.message;
                this.render();
              }
            },
          }),
        ),
      ),
    );
  }
}
