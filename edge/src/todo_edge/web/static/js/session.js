// The signed-in session: the access token lives in memory only (never in storage), and is
// renewed through the HttpOnly refresh cookie (scoped to /api/auth) shortly before it expires,
// and on page load to restore the session. Every API call goes through `session.fetch`, which
// adds the bearer token, renews once on a 401, and ends the session if the server still says 401.

const REFRESH_MARGIN_MS = 60_000; // renew this long before the token expires
const MIN_REFRESH_DELAY_MS = 5_000;

/** An API error with the problem+json details (RFC 9457) the edge sends. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `Request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem || {};
    this.fieldErrors = Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }

  /** Seconds the server asked us to wait (429). */
  get retryAfter() {
    return this.problem.retry_after_seconds ?? null;
  }
}

/** The problem+json body of a failed response, or a minimal one. */
export async function readProblem(response) {
  let problem = null;
  try {
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) problem = await response.json();
  } catch {
    problem = null;
  }
  problem = problem && typeof problem === "object" ? problem : { title: response.statusText };
  const retry = Number.parseInt(response.headers.get("retry-after") || "", 10);
  if (Number.isFinite(retry)) problem.retry_after_seconds = retry;
  return problem;
}

export class Session extends EventTarget {
  constructor() {
    super();
    this.token = null;
    this.expiresAt = 0;
    this.user = null;
    this._timer = null;
    this._refreshing = null;
  }

  get signedIn() {
    return this.token !== null;
  }

  /** Restores a session from the refresh cookie (page load). True when signed in. */
  async restore() {
    const ok = await this.refresh({ quiet: true });
    if (ok) await this._loadUser();
    return ok;
  }

  async signIn(email, password) {
    await this._authenticate("/api/auth/login", { email, password });
  }

  async signUp(email, password, displayName) {
    const body = { email, password };
    if (displayName) body.display_name = displayName;
    await this._authenticate("/api/auth/signup", body);
  }

  /** Revokes the refresh token server-side and forgets the access token. */
  async signOut() {
    try {
      await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" });
    } catch {
      // Offline: the token is forgotten anyway; the cookie expires on its own.
    }
    this._end("You are signed out.", "signed-out");
  }

  /**
   * Renews the access token with the refresh cookie. Concurrent callers share one request,
   * and tabs take turns (Web Locks): refresh tokens rotate on every use, and presenting an
   * already-rotated one revokes the whole session.
   */
  refresh({ quiet = false } = {}) {
    if (!this._refreshing) {
      const run = () => this._refreshOnce();
      const locked = navigator.locks?.request
        ? navigator.locks.request("todo-assistant-refresh", run)
        : run();
      this._refreshing = locked.finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing.then((ok) => {
      if (!ok && !quiet && this.token !== null) {
        this._end("Your session has ended. Please sign in again.", "expired");
      }
      return ok;
    });
  }

  async _refreshOnce() {
    let response;
    try {
      // keepalive: a renewal outlives a reload or navigation that starts meanwhile, so the
      // rotated refresh cookie it brings back is stored rather than lost (presenting the old
      // one again would count as reuse and end the session).
      response = await fetch("/api/auth/refresh", {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
      });
    } catch {
      return false;
    }
    if (!response.ok) return false;
    this._accept(await response.json());
    return true;
  }

  /**
   * fetch() for the API: adds the bearer token; on 401 renews once and retries; a second 401
   * ends the session (the page goes back to sign-in with a message). Returns the Response.
   */
  async fetch(input, init = {}) {
    if (!this.signedIn) throw new ApiError(401, { detail: "Not signed in." });
    const send = () => {
      const headers = new Headers(init.headers || {});
      headers.set("Authorization", `Bearer ${this.token}`);
      return fetch(input, { ...init, headers, credentials: "same-origin" });
    };
    let response = await send();
    if (response.status === 401 && this.signedIn) {
      const renewed = await this.refresh({ quiet: true });
      if (renewed) response = await send();
      if (!renewed || response.status === 401) {
        this._end("Your session has ended. Please sign in again.", "expired");
      }
    }
    if (response.status === 429) {
      const problem = await readProblem(response.clone());
      this.dispatchEvent(new CustomEvent("ratelimited", { detail: problem }));
    }
    return response;
  }

  /** JSON API call: the parsed body, or an ApiError. */
  async json(path, { method = "GET", body, headers = {} } = {}) {
    const init = { method, headers: { Accept: "application/json", ...headers } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await this.fetch(path, init);
    if (!response.ok) throw new ApiError(response.status, await readProblem(response));
    if (response.status === 204) return { body: null, response };
    return { body: await response.json(), response };
  }

  async _authenticate(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, { detail: "Cannot reach the server. Check your connection." });
    }
    if (!response.ok) throw new ApiError(response.status, await readProblem(response));
    const session = await response.json();
    this._accept(session);
    if (session.user) this.user = session.user;
    else await this._loadUser();
    this.dispatchEvent(new CustomEvent("signedin", { detail: this.user }));
  }

  async _loadUser() {
    try {
      const { body } = await this.json("/api/auth/me");
      this.user = body;
    } catch {
      this.user = this.user || null;
    }
  }

  _accept(session) {
    this.token = session.access_token;
    const expires = Date.parse(session.expires_at);
    this.expiresAt = Number.isFinite(expires) ? expires : Date.now() + 5 * 60_000;
    this._schedule();
  }

  _schedule() {
    clearTimeout(this._timer);
    const delay = Math.max(MIN_REFRESH_DELAY_MS, this.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    this._timer = setTimeout(() => this.refresh(), delay);
  }

  /** After sleep or a hidden tab the timer may be late: renew now if the token is stale. */
  checkFreshness() {
    if (this.signedIn && this.expiresAt - Date.now() < REFRESH_MARGIN_MS) this.refresh();
  }

  _end(message, reason) {
    const wasSignedIn = this.token !== null;
    clearTimeout(this._timer);
    this.token = null;
    this.expiresAt = 0;
    this.user = null;
    if (wasSignedIn || reason === "signed-out") {
      this.dispatchEvent(new CustomEvent("signedout", { detail: { message, reason } }));
    }
  }
}
