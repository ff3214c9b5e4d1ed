// The admin view, for the server's operators only (`is_admin` in
// `/auth/me`; the role comes from CHAT_ADMIN_USERNAMES): reported
// messages (`/admin/reports`) with "Delete message" and "Resolve", and the
// accounts (`/admin/users`) with search, deactivated ones on request,
// Deactivate / Reactivate and "Sign out everywhere".

import { api } from './api.js';
import { $, debounce, el, fullTime, shortTime } from './dom.js';
import { confirmAction } from './dialogs.js';

/** `me()` is the signed-in user's id (an admin cannot deactivate or sign out themself here). */
export function adminView({ me }) {
  const reportsEl = $('#reports');
  const usersEl = $('#admin-users');
  const status = $('#report-status');
  const search = $('#admin-user-q');
  const inactive = $('#admin-include-inactive');
  /** user_id → {username, display_name}: reports name people by id only. */
  const names = new Map();
  let reports = [];
  /** report_id → what happened to it here (an error, or "Message deleted"). */
  const notes = new Map();

  const label = (id) => {
    const u = names.get(id);
    if (!u) return 'an unknown account';
    return u.display_name ? `${u.display_name} (@${u.username})` : '@' + u.username;
  };

  /** Learns the names of the people reports mention: the account list first, then one by one. */
  async function learnNames(ids) {
    let missing = ids.filter((id) => !names.has(id));
    if (!missing.length) return;
    try {
      const { users } = await api('GET', 'admin/users?include_inactive=true&limit=100');
      for (const u of users) names.set(u.user_id, u);
    } catch {
      // One by one below.
    }
    missing = missing.filter((id) => !names.has(id));
    await Promise.all(
      missing.map((id) =>
        api('GET', `users/${id}`)
          .then((u) => names.set(id, u))
          .catch(() => {}),
      ),
    );
  }

  async function loadReports() {
    $('#reports-error').textContent = '';
    try {
      ({ reports } = await api('GET', `admin/reports?status=${status.value}`));
      await learnNames([...new Set(reports.flatMap((r) => [r.sender_id, r.reporter_id, r.resolved_by].filter(Boolean)))]);
    } catch (err) {
      $('#reports-error').textContent = err.message;
      reports = [];
    }
    renderReports();
  }

  function renderReports() {
    $('#no-reports').textContent = status.value === 'open' ? 'No open reports.' : 'No resolved reports.';
    $('#no-reports').hidden = reports.length > 0;
    reportsEl.replaceChildren(...reports.map(reportItem));
  }

  function reportItem(r) {
    const note = notes.get(r.report_id) || {};
    const act = async (button, run) => {
      button.disabled = true;
      try {
        await run();
      } catch (err) {
        notes.set(r.report_id, { ...note, error: err.message });
        renderReports();
      } finally {
        button.disabled = false;
      }
    };
    const remove = el('button', {
      type: 'button',
      class: 'danger small',
      dataset: { action: 'delete-message' },
      text: 'Delete message',
      onclick: (event) =>
        act(event.currentTarget, async () => {
          const sure = await confirmAction({
            title: 'Delete this message?',
            text: `It will be deleted for everyone in its conversation. The report keeps a copy.`,
            action: 'Delete',
          });
          if (!sure) return;
          await api('DELETE', `admin/conversations/${r.conversation_id}/messages/${r.message_id}`);
          notes.set(r.report_id, { done: 'Message deleted.' });
          renderReports();
        }),
    });
    const resolve = el('button', {
      type: 'button',
      class: 'primary small',
      dataset: { action: 'resolve' },
      text: 'Resolve',
      onclick: (event) =>
        act(event.currentTarget, async () => {
          await api('POST', `admin/reports/${r.report_id}/resolve`);
          notes.delete(r.report_id);
          await loadReports();
        }),
    });
    return el(
      'li',
      { class: 'report', dataset: { reportId: r.report_id, messageId: r.message_id, status: r.status } },
      el('blockquote', { class: 'report-content', text: r.content }),
      el(
        'p',
        { class: 'report-meta' },
        el('span', { class: 'report-sender', text: 'Sent by ' + label(r.sender_id) }),
        ' · ',
        el('span', { class: 'report-reporter', text: 'reported by ' + label(r.reporter_id) }),
        ' · ',
        el('time', { datetime: r.created_at, title: fullTime(r.created_at), text: shortTime(r.created_at) }),
      ),
      el('p', { class: 'report-reason', text: r.reason ? 'Reason: ' + r.reason : 'No reason given.' }),
      r.status === 'resolved'
        ? el('p', { class: 'hint', text: `Resolved ${fullTime(r.resolved_at)}` + (r.resolved_by ? ' by ' + label(r.resolved_by) : '') })
        : null,
      note.done ? el('p', { class: 'form-success', text: note.done }) : null,
      note.error ? el('p', { class: 'form-error', text: note.error }) : null,
      r.status === 'open' ? el('div', { class: 'report-actions' }, note.done ? null : remove, resolve) : null,
    );
  }

  let usersRun = 0;
  async function loadUsers() {
    const mine = ++usersRun;
    const params = new URLSearchParams();
    const q = search.value.trim();
    if (q) params.set('q', q);
    if (inactive.checked) params.set('include_inactive', 'true');
    $('#admin-users-error').textContent = '';
    try {
      const { users } = await api('GET', `admin/users?${params}`);
      if (mine !== usersRun) return;
      for (const u of users) names.set(u.user_id, u);
      usersEl.replaceChildren(...users.map(userItem));
      $('#no-accounts').hidden = users.length > 0;
    } catch (err) {
      if (mine !== usersRun) return;
      $('#admin-users-error').textContent = err.message;
    }
  }

  function userItem(u) {
    const self = u.user_id === me();
    const result = el('p', { class: 'form-success', role: 'status' });
    const error = el('p', { class: 'form-error', role: 'alert' });
    const act = async (button, run) => {
      result.textContent = '';
      error.textContent = '';
      button.disabled = true;
      try {
        await run();
      } catch (err) {
        error.textContent = err.message;
      } finally {
        button.disabled = false;
      }
    };
    const item = el(
      'li',
      { class: 'admin-user' + (u.is_active ? '' : ' inactive'), dataset: { userId: u.user_id, username: u.username } },
      el('span', { class: 'user-name', text: (u.display_name || u.username) + (self ? ' (you)' : '') }),
      el('span', { class: 'user-handle', text: `@${u.username} · ${u.email}` }),
      el('span', {
        class: 'hint account-state',
        text: u.is_active ? `Joined ${shortTime(u.created_at)}` + (u.last_seen ? ` · last seen ${shortTime(u.last_seen)}` : '') : 'Deactivated',
      }),
      self
        ? null
        : el(
            'span',
            { class: 'user-actions' },
            el('button', {
              type: 'button',
              class: u.is_active ? 'danger small' : 'secondary small',
              dataset: { action: u.is_active ? 'deactivate' : 'reactivate' },
              text: u.is_active ? 'Deactivate' : 'Reactivate',
              onclick: (event) =>
                act(event.currentTarget, async () => {
                  if (u.is_active) {
                    const sure = await confirmAction({
                      title: `Deactivate @${u.username}?`,
                      text: 'They are signed out everywhere at once and cannot log in until the account is reactivated.',
                      action: 'Deactivate',
                    });
                    if (!sure) return;
                  }
                  const fresh = await api('PATCH', `admin/users/${u.user_id}`, { is_active: !u.is_active });
                  item.replaceWith(userItem(fresh));
                }),
            }),
            u.is_active
              ? el('button', {
                  type: 'button',
                  class: 'secondary small',
                  dataset: { action: 'sign-out' },
                  text: 'Sign out everywhere',
                  onclick: (event) =>
                    act(event.currentTarget, async () => {
                      const sure = await confirmAction({
                        title: `Sign @${u.username} out everywhere?`,
                        text: 'Every session of the account ends now; they can log in again.',
                        action: 'Sign out',
                      });
                      if (!sure) return;
                      await api('DELETE', `admin/users/${u.user_id}/sessions`);
                      result.textContent = 'Signed out everywhere.';
                    }),
                })
              : null,
          ),
      result,
      error,
    );
    return item;
  }

  status.addEventListener('change', loadReports);
  search.addEventListener('input', debounce(loadUsers, 200));
  inactive.addEventListener('change', loadUsers);
  $('#admin-user-search').addEventListener('submit', (event) => {
    event.preventDefault();
    loadUsers();
  });

  return {
    /** Fills the view afresh. */
    open() {
      notes.clear();
      loadReports();
      loadUsers();
    },
  };
}
