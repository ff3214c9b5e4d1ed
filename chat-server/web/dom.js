// Small DOM helpers. User content only ever goes through `textContent`
// (here in `el`), never through `innerHTML`.

/** Creates an element: `el('li', {class: 'x', dataset: {id: 1}}, 'text', child)`. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Shows the API error `err` next to its field in `form`, or at the form's foot. */
export function showFormError(form, err, fieldOf = {}) {
  clearFormErrors(form);
  const field = err.field || fieldOf[err.code];
  const slot = field && form.querySelector(`[data-error-for="${field}"]`);
  const target = slot || form.querySelector('.form-error');
  if (target) target.textContent = err.message;
  const input = field && form.querySelector(`[name="${field}"]`);
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

export function clearFormErrors(form) {
  for (const node of form.querySelectorAll('.field-error, .form-error')) node.textContent = '';
  for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
}

/** Password rules, as the server checks them (see docs/api.md). */
function passwordRules(password) {
  const length = [...password].length;
  return {
    length: length >= 8 && length <= 128,
    digit: /\d/.test(password),
    special: /[^\p{L}\p{N}\s]/u.test(password),
  };
}

/** Ticks the rules of list `ul` that `password` meets. */
export function showPasswordRules(ul, password) {
  const rules = passwordRules(password);
  for (const li of ul.querySelectorAll('[data-rule]')) {
    li.classList.toggle('met', rules[li.dataset.rule]);
  }
  return Object.values(rules).every(Boolean);
}

export function initials(name) {
  return (name || '?').trim().slice(0, 1).toUpperCase();
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** `10:30` today, `8 Jan` before. */
export function shortTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const today = new Date();
  return date.toDateString() === today.toDateString() ? timeFormat.format(date) : dayFormat.format(date);
}

export function fullTime(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

/** A server message as a sentence: capital first letter, a full stop unless it ends in one. */
export function sentence(text) {
  const t = String(text || '').trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

/** Runs `fn` at most once per `ms`, trailing call included. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
