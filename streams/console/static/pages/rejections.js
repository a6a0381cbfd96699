// #/rejections: the latest rejections (ids and reason codes only, never a payload) and counts
// by reason, district and enumerator, re-read every 5 s while the page is open.
import { API, AuthError, getJSON } from "../api.js";
import { clear, fill, dataTable, el, errorBox, markReady, pageRoot, section } from "../dom.js";
import { number, shortTime } from "../format.js";
import { language, t } from "../i18n.js";

const REFRESH_MS = 5000;

// The reason catalogue ({code: {id, en}}) changes only with a release: read once per tab.
let reasons = null;

// The gateway's catalogue gives message_id / message_en per code; {id, en} is read too.
function message(code) {
  const entry = reasons?.[code];
  if (!entry) return "";
  const lang = language();
  return entry[`message_${lang}`] ?? entry[lang] ?? entry.message_id ?? entry.id ?? "";
}

function reasonList(codes) {
  return el(
    "ul",
    { class: "reasons" },
    (codes ?? []).map((code) => {
      const text = message(code);
      return el("li", { "data-code": code }, el("code", { text: code }), text ? el("span", { class: "reason-message", text }) : null);
    }),
  );
}

function countList(testid, counts, describe) {
  const entries = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (!entries.length) return el("p", { class: "note", "data-testid": testid, text: t("empty") });
  return el(
    "ol",
    { class: "counts", "data-testid": testid },
    entries.map(([code, count]) =>
      el(
        "li",
        { "data-code": code, "data-value": String(count) },
        el("span", { class: "count-label" }, el("code", { text: code }), describe ? el("span", { class: "reason-message", text: describe(code) }) : null),
        el("span", { class: "count-value", text: number(count) }),
      ),
    ),
  );
}

function draw(container, data) {
  const feed = dataTable({
    caption: t("rejections.feed"),
    stacked: true,
    columns: [
      { field: "at", label: t("col.time"), format: (v) => shortTime(v) },
      { field: "household_id", label: t("col.household") },
      { field: "enumerator_id", label: t("col.enumerator") },
      { field: "district_code", label: t("col.district") },
      { field: "reason_codes", label: t("col.reasons"), rawValue: (row) => (row.reason_codes ?? []).join(","), format: (v) => reasonList(v) },
    ],
    rows: data.recent ?? [],
    rowAttrs: (row) => ({ "data-household": row.household_id ?? "" }),
  });
  fill(container,
    el("p", { class: "total", "data-testid": "rejections-total", "data-value": String(data.total ?? ""), text: t("rejections.total", { n: number(data.total) }) }),
    el(
      "div",
      { class: "rejections-grid" },
      section(t("rejections.feed"), feed),
      el(
        "div",
        { class: "counts-column" },
        section(t("rejections.byReason"), countList("by-reason", data.by_reason, message)),
        section(t("rejections.byDistrict"), countList("by-district", data.by_district)),
        section(t("rejections.byEnumerator"), countList("by-enumerator", data.by_enumerator)),
      ),
    ),
  );
}

export function render(ctx) {
  const root = pageRoot("rejections");
  const status = el("div", { class: "page-status", "aria-live": "polite" }, el("p", { text: t("loading") }));
  const content = el("div");
  root.append(el("h2", { class: "page-title", text: t("rejections.title") }), el("p", { class: "note", text: t("rejections.refresh") }), status, content);
  let timer = null;
  let disposed = false;

  const load = async () => {
    try {
      // Messages are a nicety: without the catalogue the codes still show.
      if (!reasons) reasons = await getJSON(API.reasons).catch(() => ({}));
      const data = await getJSON(API.rejections);
      if (disposed) return;
      draw(content, data);
      clear(status);
      markReady(root);
    } catch (error) {
      if (error instanceof AuthError) {
        ctx.signedOut(t("signin.expired"));
        return;
      }
      if (!disposed) fill(status, errorBox(t("error.load", { message: error.message })));
    }
    if (!disposed) timer = setTimeout(load, REFRESH_MS);
  };
  load();

  return {
    root,
    dispose() {
      disposed = true;
      clearTimeout(timer);
    },
  };
}
