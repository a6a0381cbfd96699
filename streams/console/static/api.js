// The gateway's console API. The token lives in sessionStorage only (gone when the tab closes)
// and travels in the Authorization header, never in a URL where logs would keep it.

const TOKEN_KEY = "regsosek.console.token";

export class AuthError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(extra = {}) {
  return { ...extra, Authorization: `Bearer ${token() ?? ""}` };
}

// The server's own one-line message ({"error": ...}) when there is one, else the status text.
export async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return body.error;
  } catch {
    // Not JSON (a proxy's HTML page, say): fall back to the status line.
  }
  return `${response.status} ${response.statusText}`.trim();
}

async function check(response) {
  if (response.status === 401 || response.status === 403) {
    throw new AuthError(response.status, await errorMessage(response));
  }
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  return response;
}

export async function getJSON(path, { signal } = {}) {
  const response = await fetch(path, {
    headers: authHeaders({ Accept: "application/json" }),
    cache: "no-store",
    signal,
  });
  return (await check(response)).json();
}

export async function postJSON(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
    body: JSON.stringify(body),
  });
  if (response.status === 401 || response.status === 403) {
    // A refused decision is not a lost session: the supervisor may just not lead this team.
    throw new ApiError(response.status, await errorMessage(response));
  }
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  return { status: response.status, body: await response.json().catch(() => null) };
}

export const API = {
  whoami: "/console/api/whoami",
  map: "/console/api/map",
  overview: "/console/api/overview",
  district: (code) => `/console/api/district?code=${encodeURIComponent(code)}`,
  rejections: "/console/api/rejections?limit=50",
  reasons: "/console/api/reasons",
  reviews: "/console/api/reviews",
  health: "/console/api/health",
  events: "/console/api/events",
  decide: "/v1/reviews",
};
