// Whether the user may write in the open conversation. A direct
// conversation with someone they blocked, or a group where only the owner
// and admins post (`posting: "admins"`) and they are a plain member, shows
// a notice in place of the composer. (Being blocked by the peer is not
// shown: the server tells only when a send is refused.)

import { $ } from './dom.js';

/**
 * Why the user cannot write in `summary`'s conversation, or null.
 * `blocked(userId)` says whether they blocked a user; `role` is their role
 * in it; `name` the peer's name.
 */
export function gateOf(summary, { blocked, role, name }) {
  if (!summary) return null;
  if (summary.kind === 'direct' && summary.peer && blocked(summary.peer.user_id)) {
    return { kind: 'blocked', text: `You blocked ${name}. Unblock them to send messages.`, unblock: true };
  }
  if (summary.kind === 'group' && summary.posting === 'admins' && role === 'member') {
    return { kind: 'posting', text: 'Only admins can post in this group.' };
  }
  return null;
}

/** Shows the composer, or the notice of `gate` in its place. */
export function showGate(gate) {
  const notice = $('#composer-notice');
  $('#composer').hidden = Boolean(gate);
  $('#message-input').disabled = Boolean(gate);
  notice.hidden = !gate;
  notice.dataset.kind = gate?.kind || '';
  $('#composer-notice-text').textContent = gate?.text || '';
  $('#composer-unblock').hidden = !gate?.unblock;
  if (gate) $('#reply-bar').hidden = true;
}
