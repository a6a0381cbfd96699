// #/health: the pipeline's own figures (the same sources as the Prometheus metrics), live
// from the "health" events of the stream.
import { API, AuthError, getJSON } from "../api.js";
import { clear, fill, dataTable, el, errorBox, markReady, pageRoot, section } from "../dom.js";
import { number, raw, time } from "../format.js";
import { t } from "../i18n.js";

function figure(testid, label, value, text, cls) {
  return el("div", { class: `tile ${cls ?? ""}`.trim() }, el("dt", { text: label }), el("dd", { "data-testid": testid, "data-value": raw(value), text }));
}

function yesNo(value) {
  if (value === null || value === undefined) return t("none");
  return value ? t("yes") : t("no");
}

function flagValue(value) {
  return typeof value === "boolean" ? String(value) : value;
}

// commits_stalled is an object whose keys the worker chooses; show every entry as it comes.
function stalledList(stalled) {
  const entries = Object.entries(stalled ?? {});
  if (!entries.length) return el("p", { class: "note", text: t("none") });
  return el(
    "dl",
    { class: "pairs", "data-testid": "health-commits-stalled" },
    entries.map(([key, value]) => el("div", {}, el("dt", { text: key }), el("dd", { text: typeof value === "object" ? JSON.stringify(value) : String(value) }))),
  );
}

function draw(container, h) {
  const fresh = h.freshness_ms ?? {};
  const lagRows = Object.entries(h.lag ?? {}).map(([topic, lag]) => ({ topic, lag }));
  const state = el(
    "dl",
    { class: "tiles compact" },
    figure("health-ready", t("health.ready"), flagValue(h.ready), yesNo(h.ready), h.ready === false ? "bad" : "good"),
    figure("health-sink-failing", t("health.sinkFailing"), flagValue(h.sink_failing), yesNo(h.sink_failing), h.sink_failing ? "bad" : "good"),
    figure("health-insert-rate", t("health.insert"), h.insert_rows_per_s ?? null, number(h.insert_rows_per_s, 1)),
    figure("health-processed", t("health.processed"), h.processed ?? null, number(h.processed)),
    figure("health-valid", t("health.valid"), h.valid ?? null, number(h.valid)),
    figure("health-rejected", t("health.rejected"), h.rejected ?? null, number(h.rejected)),
    figure("health-dropped", t("health.dropped"), h.dropped ?? null, number(h.dropped)),
  );
  const freshness = el(
    "dl",
    { class: "tiles compact" },
    ["p50", "p95", "p99"].map((p) => figure(`health-freshness-${p}`, p, fresh[p] ?? null, number(fresh[p]))),
  );
  const lag = dataTable({
    caption: t("health.lag"),
    columns: [
      { field: "topic", label: t("col.topic") },
      { field: "lag", label: t("col.lag"), numeric: true, format: (v) => number(v) },
    ],
    rows: lagRows,
    rowAttrs: (row) => ({ "data-topic": row.topic }),
  });
  fill(container,
    section(t("health.throughput"), state),
    el(
      "div",
      { class: "health-grid" },
      section(t("health.lag"), lag, el("p", { class: "note", "data-testid": "health-lag-read-at", text: t("health.lagReadAt", { time: time(h.lag_read_at) }) })),
      section(t("health.freshness"), freshness),
      section(t("health.commits"), stalledList(h.commits_stalled)),
    ),
  );
}

export function render(ctx) {
  const { store } = ctx;
  const root = pageRoot("health");
  const status = el("div", { class: "page-status", "aria-live": "polite" }, el("p", { text: t("loading") }));
  const content = el("div");
  root.append(el("h2", { class: "page-title", text: t("health.title") }), status, content);

  const show = () => {
    draw(content, store.health);
    clear(status);
    markReady(root);
  };

  if (store.health) show();
  else {
    getJSON(API.health)
      .then((health) => {
        store.health = store.health ?? health;
        show();
      })
      .catch((error) => {
        if (error instanceof AuthError) ctx.signedOut(t("signin.expired"));
        else fill(status, errorBox(t("error.load", { message: error.message })));
      });
  }

  return {
    root,
    update(type) {
      if (type === "health") show();
    },
  };
}
