// The REST client and the session: tokens in sessionStorage, a refresh
// before the access token expires and after any 401, one refresh at a time.

const KEY = 'chat.session';
// Relative to the page, so the demo also works under a nested path.
const BASE = new URL('api/v1/', document.baseURI);

/** An error answer of the API: `{error: {code, message, field?}}`. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed with status ${status}`);
    this.status = status;
    this.code = error.code || (status === 0 ? 'NETWORK' : 'HTTP_' + status);
    this.field = error.field;
    this.retryAfter = error.retry_after;
  }
}

export const session = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY));
    } catch {
      return null;
    }
  },
  /** Stores a token answer (signup, login, refresh). */
  save(answer) {
    const value = {
      userId: answer.user_id,
      accessToken: answer.access_token,
      refreshToken: answer.refresh_token,
      expiresAt: Date.now() + answer.expires_in * 1000,
    };
    sessionStorage.setItem(KEY, JSON.stringify(value));
    for (const listener of listeners) listener(value);
    return value;
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

const listeners = new Set();
/** Calls `listener(session)` whenever tokens change (the socket re-authenticates). */
export function onTokens(listener) {
  listeners.add(listener);
}

/** Sends a request; gives `{status, json}` for a 2xx answer, throws an ApiError otherwise. */
async function request(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = 'Bearer ' + token;
  let response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: { code: 'NETWORK', message: 'The server cannot be reached. Check your connection.' } });
  }
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, json);
  return { status: response.status, json };
}

/** The absolute URL of an API path (`attachments/…`), relative to the page. */
export function apiUrl(path) {
  return new URL(path.replace(/^\//, ''), BASE);
}

async function send(method, path, body, token) {
  return (await request(method, path, body, token)).json;
}

/** A request that needs no token (signup, login, password reset). */
export function publicApi(method, path, body) {
  return send(method, path, body);
}

let refreshing = null;

/** Trades the refresh token for new tokens; concurrent callers share one request. */
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const current = session.get();
      if (!current) throw new ApiError(401, { error: { code: 'UNAUTHENTICATED', message: 'Not logged in.' } });
      try {
        return session.save(await send('POST', 'auth/session/refresh', { refresh_token: current.refreshToken }));
      } catch (err) {
        if (err.status === 401) endSession('Your session has ended. Please log in again.');
        throw err;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** An authenticated request; a 401 refreshes the tokens once and retries. */
export async function api(method, path, body) {
  return (await apiWithStatus(method, path, body)).json;
}

/**
 * `api`, answering `{status, json}`: for the calls whose status says
 * something (`201` a new report, `200` one made before).
 */
export async function apiWithStatus(method, path, body) {
  const current = session.get();
  if (!current) {
    endSession();
    throw new ApiError(401, { error: { code: 'UNAUTHENTICATED', message: 'Not logged in.' } });
  }
  try {
    return await request(method, path, body, current.accessToken);
  } catch (err) {
    if (err.status !== 401) throw err;
    const fresh = await refresh();
    return request(method, path, body, fresh.accessToken);
  }
}

/**
 * The bytes of a GET that needs the token (a file, an image's preview),
 * as a Blob: the header an `<img src>` cannot send. A 401 refreshes the
 * tokens once and retries; an error answer throws an ApiError.
 */
export async function fetchBlob(path) {
  const get = async (token) => {
    try {
      return await fetch(apiUrl(path), { headers: { authorization: 'Bearer ' + token } });
    } catch {
      throw new ApiError(0, { error: { code: 'NETWORK', message: 'The server cannot be reached. Check your connection.' } });
    }
  };
  const current = session.get();
  if (!current) {
    endSession();
    throw new ApiError(401, { error: { code: 'UNAUTHENTICATED', message: 'Not logged in.' } });
  }
  let response = await get(current.accessToken);
  if (response.status === 401) response = await get((await refresh()).accessToken);
  if (!response.ok) {
    let json = null;
    try {
      json = await response.json();
    } catch {
      json = null;
    }
    throw new ApiError(response.status, json);
  }
  return response.blob();
}

let refreshTimer = null;

/** Refreshes the tokens a minute before the access token expires, again and again. */
export function keepFresh() {
  clearTimeout(refreshTimer);
  const current = session.get();
  if (!current) return;
  const lead = Math.min(60_000, (current.expiresAt - Date.now()) / 5);
  const wait = Math.max(1_000, current.expiresAt - Date.now() - lead);
  refreshTimer = setTimeout(async () => {
    try {
      await refresh();
    } catch (err) {
      if (err.status === 401) return;
    }
    keepFresh();
  }, wait);
}

/** Forgets the tokens and goes back to the login page. */
function endSession(reason) {
  session.clear();
  const target = new URL('index.html', document.baseURI);
  if (reason) target.hash = 'notice=' + encodeURIComponent(reason);
  if (!location.pathname.endsWith('/') && !location.pathname.endsWith('index.html')) location.replace(target);
}

/** Logs out: ends the session on the server (best effort) and locally. */
export async function logout() {
  const current = session.get();
  clearTimeout(refreshTimer);
  if (current) {
    try {
      await send('POST', 'auth/logout', { refresh_token: current.refreshToken });
    } catch {
      // The tokens are forgotten either way.
    }
  }
  endSession();
}
