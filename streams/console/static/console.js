// The console's entry point: sign-in, the live stream, the hash router and the shell around
// the pages. Pages (pages/*.js) render from the shared store and are told when it changes.
import { API, AuthError, clearToken, getJSON, setToken, token } from "./api.js";
import { shortTime, time } from "./format.js";
import { language, onLanguageChange, setLanguage, t, translateStatic } from "./i18n.js";
import { LiveStream } from "./sse.js";
import * as overviewPage from "./pages/overview.js";
import * as districtPage from "./pages/district.js";
import * as rejectionsPage from "./pages/rejections.js";
import * as reviewsPage from "./pages/reviews.js";
import * as healthPage from "./pages/health.js";

const ROUTES = [
  { name: "overview", pattern: /^\/?$/, page: overviewPage, roles: ["operator", "supervisor"] },
  { name: "district", pattern: /^\/district\/([\w.]+)$/, page: districtPage, roles: ["operator"] },
  { name: "rejections", pattern: /^\/rejections$/, page: rejectionsPage, roles: ["operator"] },
  { name: "reviews", pattern: /^\/reviews$/, page: reviewsPage, roles: ["operator", "supervisor"] },
  { name: "health", pattern: /^\/health$/, page: healthPage, roles: ["operator"] },
];

const main = document.getElementById("main");
const badge = document.querySelector("[data-testid=live-status]");
const asOf = document.querySelector("[data-testid=as-of]");

// Shared by all pages: who is signed in, the map (fetched once) and the latest live figures.
const store = {
  whoami: null,
  map: null,
  overview: null,
  health: null,
  lastUpdate: null,
  liveLabel: "connecting",
};

let stream = null;
let current = null; // { route, params, view }

function routeOf(hash) {
  const path = hash.replace(/^#/, "") || "/";
  for (const route of ROUTES) {
    const match = path.match(route.pattern);
    if (match) return { route, params: match.slice(1) };
  }
  return null;
}

function allowed(route) {
  return route.roles.includes(store.whoami?.role);
}

function context() {
  return {
    store,
    navigate: (hash) => {
      window.location.hash = hash;
    },
    signedOut: (message) => showSignIn(message),
  };
}

function render() {
  if (!store.whoami) return;
  current?.view?.dispose?.();
  let found = routeOf(window.location.hash);
  if (found && !allowed(found.route)) found = null;
  if (!found) {
    // An unknown or forbidden route lands on the overview rather than on an error page.
    if (window.location.hash && window.location.hash !== "#/") {
      window.location.replace("#/");
      return;
    }
    found = routeOf("#/");
  }
  const view = found.route.page.render(context(), ...found.params);
  current = { ...found, view };
  main.replaceChildren(view.root);
  for (const link of document.querySelectorAll("[data-route]")) {
    const active = link.dataset.route === found.route.name;
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function showLive() {
  const state = store.liveLabel === "live" ? "live" : "reconnecting";
  badge.dataset.state = state;
  badge.textContent = t(`live.${store.liveLabel}`);
  if (store.lastUpdate) {
    asOf.dateTime = store.lastUpdate.toISOString();
    asOf.textContent = t("live.asof", { time: shortTime(store.lastUpdate.toISOString()) });
    asOf.title = time(store.lastUpdate.toISOString());
  } else {
    asOf.removeAttribute("datetime");
    asOf.textContent = t("live.never");
  }
}

function onLiveEvent(type, data) {
  if (type !== "overview" && type !== "health") return;
  store[type] = data;
  store.lastUpdate = new Date();
  showLive();
  current?.view?.update?.(type);
}

function startLive() {
  stream?.stop();
  stream = new LiveStream(API.events, {
    onEvent: onLiveEvent,
    onState: (state, label) => {
      store.liveLabel = state === "live" ? "live" : label;
      showLive();
    },
    onAuthError: () => showSignIn(t("signin.expired")),
  });
  stream.start();
}

function showShell(signedIn) {
  document.querySelector(".nav").hidden = !signedIn;
  document.querySelector(".status").hidden = !signedIn;
  document.querySelector(".signout").hidden = !signedIn;
  const who = document.querySelector("[data-testid=whoami]");
  const regency = document.querySelector("[data-testid=regency-name]");
  if (!signedIn) {
    who.textContent = "";
    regency.textContent = "";
    return;
  }
  const { role, id, regency_name: name, regency: code } = store.whoami;
  who.textContent = role === "supervisor" ? t("role.supervisor", { id }) : t("role.operator");
  who.dataset.role = role;
  regency.textContent = name ? `${name} (${code})` : code ?? "";
  for (const item of document.querySelectorAll("[data-role]")) {
    if (item.tagName === "LI") item.hidden = !item.dataset.role.split(" ").includes(role);
  }
}

function showSignIn(message = "") {
  stream?.stop();
  current?.view?.dispose?.();
  current = null;
  store.whoami = null;
  store.overview = null;
  store.health = null;
  store.lastUpdate = null;
  clearToken();
  showShell(false);
  const page = document.getElementById("signin-template").content.cloneNode(true);
  translateStatic(page);
  const form = page.querySelector("form");
  const note = page.querySelector(".message");
  note.textContent = message;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = form.token.value.trim();
    if (!value) {
      note.textContent = t("signin.required");
      return;
    }
    note.textContent = t("signin.checking");
    setToken(value);
    await signIn();
  });
  main.replaceChildren(page);
  main.querySelector("input")?.focus();
}

async function signIn() {
  try {
    store.whoami = await getJSON(API.whoami);
  } catch (error) {
    clearToken();
    if (error instanceof AuthError) {
      showSignIn(t(error.status === 403 ? "signin.forbidden" : "signin.unauthorized"));
    } else {
      showSignIn(t("signin.failed", { message: error.message }));
    }
    return;
  }
  showShell(true);
  showLive();
  startLive();
  render();
}

function signOut() {
  showSignIn("");
  window.location.hash = "#/";
}

function init() {
  document.documentElement.lang = language();
  translateStatic();
  document.querySelector(".lang").addEventListener("click", () => {
    setLanguage(language() === "id" ? "en" : "id");
  });
  document.querySelector(".signout").addEventListener("click", signOut);
  onLanguageChange(() => {
    translateStatic();
    if (store.whoami) {
      showShell(true);
      showLive();
      render();
    } else {
      const note = main.querySelector(".message")?.textContent;
      showSignIn(note ?? "");
    }
  });
  window.addEventListener("hashchange", render);
  if (token()) signIn();
  else showSignIn("");
}

init();
