// The settings view: the display name, the email and the password, each
// changed with `PUT /users/me`. A new email or password needs the current
// password (an access token alone must not take an account over).

import { api } from './api.js';
import { $, clearFormErrors, showFormError, showPasswordRules } from './dom.js';

// The server names the field of every field error, except a wrong current
// password, which is a refusal (403) rather than a bad input.
const FIELD_OF = { INVALID_CURRENT_PASSWORD: 'current_password' };

/**
 * Wires the settings forms. `profile()` gives the signed-in user's profile
 * (as `/auth/me` answers); `updated(profile)` runs after every change with
 * the profile the server returned. Returns `open()`, which fills the forms
 * afresh.
 */
export function settingsView({ profile, updated }) {
  const forms = {
    profile: $('#profile-form'),
    email: $('#email-form'),
    password: $('#password-form'),
  };
  const rules = $('#settings-rules');
  forms.password.new_password.addEventListener('input', () => showPasswordRules(rules, forms.password.new_password.value));

  function fill() {
    const me = profile();
    forms.profile.display_name.value = me.display_name || '';
    $('#settings-username').textContent = '@' + me.username;
    $('#settings-email').textContent = me.email || '';
  }

  /** Sends `body`, then says `success(profile)` under the form; errors go next to their field. */
  function wire(form, body, success) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type=submit]');
      const done = form.querySelector('.form-success');
      clearFormErrors(form);
      done.textContent = '';
      button.disabled = true;
      try {
        const answer = await api('PUT', 'users/me', body());
        updated(answer);
        fill();
        done.textContent = success(answer);
        for (const input of form.querySelectorAll('input[type=password]')) input.value = '';
      } catch (err) {
        if (err.code === 'RATE_LIMITED' && err.retryAfter) {
          err.message = `Too many attempts. Try again in ${Math.ceil(err.retryAfter / 60)} min.`;
        }
        showFormError(form, err, FIELD_OF);
      } finally {
        button.disabled = false;
      }
    });
  }

  wire(
    forms.profile,
    // An empty name clears it: the username shows instead.
    () => ({ display_name: forms.profile.display_name.value.trim() || null }),
    (me) => (me.display_name ? `Saved. Others now see you as ${me.display_name}.` : 'Saved. Others now see your username.'),
  );

  wire(
    forms.email,
    () => {
      const email = forms.email.email.value.trim();
      if (!email) throw { field: 'email', message: 'Enter the new email.' };
      if (!forms.email.current_password.value) throw { field: 'current_password', message: 'Enter your current password.' };
      return { email, current_password: forms.email.current_password.value };
    },
    (me) => {
      forms.email.email.value = '';
      return `Your email is now ${me.email}.`;
    },
  );

  wire(
    forms.password,
    () => {
      const form = forms.password;
      if (!form.current_password.value) throw { field: 'current_password', message: 'Enter your current password.' };
      if (!showPasswordRules(rules, form.new_password.value)) {
        throw { field: 'new_password', message: 'The password does not meet the rules above.' };
      }
      return { current_password: form.current_password.value, new_password: form.new_password.value };
    },
    () => {
      showPasswordRules(rules, '');
      return 'Password changed. Your other devices have been logged out.';
    },
  );

  return {
    open() {
      for (const form of Object.values(forms)) {
        form.reset();
        clearFormErrors(form);
        form.querySelector('.form-success').textContent = '';
      }
      showPasswordRules(rules, '');
      fill();
      forms.profile.display_name.focus();
    },
  };
}
