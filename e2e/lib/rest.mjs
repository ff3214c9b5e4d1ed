// The REST API straight from the test: users who need no browser, and
// messages sent in bulk, as docs/api.md describes them.

/** Calls `path` (under /api/v1) and gives `{status, body}`; a non-2xx answer is returned, not thrown. */
export async function rest(base, method, path, { token, body } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = 'Bearer ' + token;
  const response = await fetch(`${base}/api/v1/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Like `rest`, but fails unless the answer is 2xx; gives the body. */
export async function ok(base, method, path, options) {
  const { status, body } = await rest(base, method, path, options);
  if (status < 200 || status > 299) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(body)}`);
  return body;
}

/** Signs up a user with display name `name` over REST: `{name, username, email, password, userId, token}`. */
export async function restUser(base, name) {
  const username = `${name}${Math.random().toString(36).slice(2, 8)}`.toLowerCase();
  const user = { name, username, email: `${username}@example.com`, password: 's3cret!pass' };
  const answer = await ok(base, 'POST', 'auth/signup', {
    body: { username, email: user.email, password: user.password, display_name: name },
  });
  return { ...user, userId: answer.user_id, token: answer.access_token };
}

/** The session (`{userId, accessToken}`) of a person's signed-in page. */
export function sessionOf(p) {
  return p.page.evaluate(() => JSON.parse(sessionStorage.getItem('chat.session')));
}

/** Polls `check()` (async) every `every` ms until it gives a truthy value, which it returns. */
export async function until(check, { timeout = 10_000, what = 'a condition', every = 100 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, every));
  }
}
