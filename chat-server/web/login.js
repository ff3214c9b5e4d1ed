// The login page: log in, sign up, forgot password, and the reset form
// that the emailed link (`/#reset-token=...`) opens.

import { publicApi, session } from './api.js';
import { $, clearFormErrors, showFormError, showPasswordRules } from './dom.js';

const forms = {
  login: $('#login-form'),
  signup: $('#signup-form'),
  forgot: $('#forgot-form'),
  reset: $('#reset-form'),
};
const tabs = { login: $('#tab-login'), signup: $('#tab-signup') };
const notice = $('#auth-notice');

function show(name, message) {
  // An error belongs to the attempt that caused it: going to another form
  // and back starts clean.
  for (const [key, form] of Object.entries(forms)) {
    form.hidden = key !== name;
    clearFormErrors(form);
  }
  for (const [key, tab] of Object.entries(tabs)) tab.setAttribute('aria-selected', String(key === name));
  $('.tabs').hidden = name === 'forgot' || name === 'reset';
  say(message);
  const first = forms[name].querySelector('input');
  if (first) first.focus();
}

function say(message) {
  notice.hidden = !message;
  notice.textContent = message || '';
}

function enter(answer) {
  session.save(answer);
  location.replace(new URL('chat.html', document.baseURI));
}

/** Disables the form's button while `work` runs. */
async function busy(form, work) {
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  clearFormErrors(form);
  try {
    await work();
  } catch (err) {
    // The server names the input at fault in `field` (USERNAME_TAKEN,
    // EMAIL_TAKEN and every validation error); anything else goes at the
    // form's foot.
    showFormError(form, err);
  } finally {
    button.disabled = false;
  }
}

tabs.login.addEventListener('click', () => show('login'));
tabs.signup.addEventListener('click', () => show('signup'));
$('#show-forgot').addEventListener('click', () => show('forgot'));
for (const back of document.querySelectorAll('[data-back]')) back.addEventListener('click', () => show('login'));

forms.login.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = forms.login;
  busy(form, async () => {
    const username = form.username.value.trim();
    if (!username) throw { field: 'username', message: 'Enter your username or email.' };
    if (!form.password.value) throw { field: 'password', message: 'Enter your password.' };
    try {
      enter(await publicApi('POST', 'auth/login', { username, password: form.password.value }));
    } catch (err) {
      if (err.code === 'INVALID_CREDENTIALS') throw { message: 'Wrong username or password.' };
      throw err;
    }
  });
});

const signupRules = $('#signup-rules');
forms.signup.password.addEventListener('input', () => showPasswordRules(signupRules, forms.signup.password.value));

forms.signup.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = forms.signup;
  busy(form, async () => {
    if (!showPasswordRules(signupRules, form.password.value)) {
      throw { field: 'password', message: 'The password does not meet the rules below.' };
    }
    const body = {
      username: form.username.value.trim(),
      email: form.email.value.trim(),
      password: form.password.value,
    };
    const displayName = form.display_name.value.trim();
    if (displayName) body.display_name = displayName;
    enter(await publicApi('POST', 'auth/signup', body));
  });
});

forms.forgot.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = forms.forgot;
  busy(form, async () => {
    const answer = await publicApi('POST', 'auth/forgot-password', { email: form.email.value.trim() });
    show('login', answer.message);
  });
});

const resetRules = $('#reset-rules');
forms.reset.new_password.addEventListener('input', () => showPasswordRules(resetRules, forms.reset.new_password.value));

let resetToken = null;
forms.reset.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = forms.reset;
  busy(form, async () => {
    if (!showPasswordRules(resetRules, form.new_password.value)) {
      throw { field: 'new_password', message: 'The password does not meet the rules below.' };
    }
    await publicApi('POST', 'auth/reset-password', { token: resetToken, new_password: form.new_password.value });
    resetToken = null;
    show('login', 'Your password has been changed. Log in with the new one.');
  });
});

// The fragment carries the reset token (never sent to any server) or a
// notice. A reset link opened in a tab already on this page changes only
// the fragment, hence the hashchange listener.
function route(initial) {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (!location.hash) return;
  history.replaceState(null, '', location.pathname + location.search);
  if (fragment.get('reset-token')) {
    resetToken = fragment.get('reset-token');
    show('reset');
  } else if (initial && session.get()) {
    location.replace(new URL('chat.html', document.baseURI));
  } else {
    show('login', fragment.get('notice'));
  }
}
window.addEventListener('hashchange', () => route(false));
if (location.hash) route(true);
else if (session.get()) location.replace(new URL('chat.html', document.baseURI));
else show('login');
