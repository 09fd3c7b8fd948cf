// The dispatcher's HTTP API, with the caller's bearer token kept in
// localStorage so a reload does not ask again.
const TOKEN_KEY = 'skyshare.token';

export function savedToken() {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

export function saveToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = e.code ?? 'http';
    this.where = e.where ?? null;
  }
  describe() {
    return this.where ? `${this.message} (at ${this.where})` : this.message;
  }
}

/// `body`: an object sent as JSON, or a RawText sent as it is (a file).
async function call(method, path, body, token = savedToken()) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : (body instanceof RawText ? body.text : JSON.stringify(body)),
  });
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    // A non-JSON body (a proxy's error page, say) is reported by status.
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

class RawText {
  constructor(text) {
    this.text = text;
  }
}

export const api = {
  postText: (path, text) => call('POST', path, new RawText(text)),
  get: (path, token) => call('GET', path, undefined, token),
  post: (path, body) => call('POST', path, body),
  put: (path, body) => call('PUT', path, body),
  del: (path) => call('DELETE', path),
  region: () => fetch('/api/v1/region').then((r) => r.json()),
};
