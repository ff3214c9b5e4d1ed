// In-page dialogs that ask before acting (native `confirm()` and
// `prompt()` block the page): a confirmation, and the reason for a report.

import { $ } from './dom.js';

/** Shows `dialog` and resolves to its `returnValue` when it closes. */
function ask(dialog, focus) {
  dialog.returnValue = '';
  dialog.showModal();
  focus.focus();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true }));
}

/**
 * Asks to confirm an action: `title`, a sentence of `text`, and the label
 * of the button that goes ahead. Resolves to true when confirmed.
 */
export async function confirmAction({ title, text, action }) {
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = action;
  return (await ask($('#confirm-dialog'), $('#confirm-cancel'))) === 'ok';
}

/**
 * Asks why a message is reported (optional, at most 1,000 characters, as
 * the server takes it), quoting it. Resolves to the reason (possibly
 * empty), or null when cancelled.
 */
export async function reportReason({ sender, excerpt }) {
  const form = $('#report-form');
  form.reset();
  $('#report-sender').textContent = sender;
  $('#report-excerpt').textContent = excerpt;
  const answer = await ask($('#report-dialog'), form.reason);
  return answer === 'report' ? form.reason.value.trim() : null;
}
