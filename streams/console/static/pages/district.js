// #/district/<code>: one district's villages, SLS units, enumerators (with data-quality flags)
// and supervisor teams, and a small map of its villages.
import { API, AuthError, getJSON } from "../api.js";
import { clear, fill, dataTable, el, errorBox, markReady, pageRoot, section } from "../dom.js";
import { percentOf } from "../figures.js";
import { number, percent, raw, ratio, shortTime } from "../format.js";
import { has, t } from "../i18n.js";
import { districtMap, legend } from "../map.js";

const REFRESH_MS = 5000;

const n = (v) => number(v);
const pct = (v) => percent(v);

function flagBadges(flags) {
  return el(
    "ul",
    { class: "flags" },
    (flags ?? []).map((code) =>
      el("li", { class: `flag flag-${code.toLowerCase()}`, "data-flag": code, title: code, text: has(`flag.${code}`) ? t(`flag.${code}`) : code }),
    ),
  );
}

function summary(data) {
  const d = data.district ?? {};
  const r = data.review ?? {};
  const figures = [
    ["target", d.target, n],
    ["enumerated", d.enumerated, n],
    ["percent", d.percent ?? percentOf(d.enumerated, d.target), pct],
    ["visited", d.visited, n],
    ["rejected", d.rejected, n],
    ["awaiting_review", r.awaiting_review, n],
    ["approved", r.approved, n],
    ["returned", r.returned, n],
    ["rejected_final", r.rejected_final, n],
  ];
  return el(
    "dl",
    { class: "tiles compact" },
    figures.map(([field, value, format]) =>
      el(
        "div",
        { class: "tile" },
        el("dt", { text: t(`col.${field}`) }),
        el("dd", { "data-testid": `district-${field.replace(/_/g, "-")}`, "data-value": raw(value ?? null), text: format(value) }),
      ),
    ),
  );
}

function tables(data) {
  const villages = dataTable({
    caption: t("district.villages"),
    columns: [
      { field: "village_code", label: t("col.code") },
      { field: "village_name", label: t("col.name") },
      { field: "target", numeric: true, format: n },
      { field: "enumerated", numeric: true, format: n },
      { field: "percent", numeric: true, format: pct },
      { field: "visited", numeric: true, format: n },
      { field: "warnings", numeric: true, format: n },
      { field: "last_submission_at", format: (v) => shortTime(v) },
    ],
    rows: data.villages ?? [],
    rowAttrs: (row) => ({ "data-village": row.village_code }),
  });
  const sls = dataTable({
    caption: t("district.sls"),
    columns: [
      { field: "village_code", label: t("col.village") },
      { field: "sls_code", label: t("col.sls") },
      { field: "target", numeric: true, format: n },
      { field: "enumerated", numeric: true, format: n },
      { field: "percent", numeric: true, format: pct },
    ],
    rows: data.sls ?? [],
    rowAttrs: (row) => ({ "data-sls": `${row.village_code}/${row.sls_code}` }),
  });
  const enumerators = dataTable({
    caption: t("district.enumerators"),
    columns: [
      { field: "enumerator_id", label: t("col.enumerator") },
      { field: "supervisor_id", label: t("col.supervisor") },
      { field: "target", numeric: true, format: n },
      { field: "enumerated", numeric: true, format: n },
      { field: "percent", numeric: true, format: pct },
      { field: "rejected", numeric: true, format: n },
      { field: "rejection_rate", numeric: true, format: (v) => ratio(v) },
      { field: "warning_rate", numeric: true, format: (v) => ratio(v) },
      { field: "households_per_day", numeric: true, format: (v) => number(v, 1) },
      { field: "awaiting_review", numeric: true, format: n },
      { field: "returned", numeric: true, format: n },
      { field: "flags", rawValue: (row) => (row.flags ?? []).join(","), format: (v) => flagBadges(v) },
      { field: "last_submission_at", format: (v) => shortTime(v) },
    ],
    rows: data.enumerators ?? [],
    rowAttrs: (row) => ({ "data-enumerator": row.enumerator_id, "data-flags": (row.flags ?? []).join(" ") }),
  });
  const teams = dataTable({
    caption: t("district.teams"),
    columns: [
      { field: "supervisor_id", label: t("col.supervisor") },
      { field: "enumerators", numeric: true, format: n },
      { field: "visited", numeric: true, format: n },
      { field: "rejected", numeric: true, format: n },
      { field: "rejection_rate", numeric: true, format: (v) => ratio(v) },
      { field: "warning_rate", numeric: true, format: (v) => ratio(v) },
      { field: "awaiting_review", numeric: true, format: n },
      { field: "approved", numeric: true, format: n },
      { field: "returned", numeric: true, format: n },
    ],
    rows: data.teams ?? [],
    rowAttrs: (row) => ({ "data-team": row.supervisor_id }),
  });
  return [
    section(t("district.villages"), villages),
    section(t("district.sls"), sls),
    section(t("district.enumerators"), enumerators),
    section(t("district.teams"), teams),
  ];
}

export function render(ctx, code) {
  const { store } = ctx;
  const root = pageRoot("district");
  root.dataset.district = code;
  const title = el("h2", { class: "page-title", text: t("district.title", { name: code }) });
  const status = el("div", { class: "page-status", "aria-live": "polite" }, el("p", { text: t("loading") }));
  const head = el("div", { class: "district-head" });
  const body = el("div", { class: "district-body" });
  root.append(el("p", {}, el("a", { href: "#/", class: "back", text: `← ${t("district.back")}` })), title, status, head, body);

  let lastLoad = 0;
  let loading = false;
  let disposed = false;

  const draw = (data) => {
    // The route may name the BPS code (3509010); the answer's code is the master code the
    // map keys on.
    const master = data.code ?? code;
    const placed = store.map?.districts.find((d) => d.code === master);
    const name = data.district?.district_name || placed?.name || store.map?.unplaced?.find((d) => d.code === master)?.name || master;
    title.textContent = t("district.title", { name: `${name} (${master})` });
    const byVillage = new Map((data.villages ?? []).map((v) => [v.village_code, v.percent ?? null]));
    const mini = store.map ? districtMap(store.map, master, (village) => byVillage.get(village) ?? null, { name }) : null;
    // The villages table fills the column beside the map; the wider tables run full width.
    const [villages, ...rest] = tables(data);
    fill(
      head,
      el("div", { class: "district-main" }, el("div", { class: "panel district-summary" }, summary(data)), villages),
      mini
        ? el(
            "figure",
            { class: "panel district-map-panel" },
            el("h3", { text: t("district.map") }),
            mini,
            legend(),
            el("figcaption", { class: "note", text: t("map.note") }),
          )
        : null,
    );
    fill(body, ...rest);
    if (!data.district && !(data.villages ?? []).length) {
      status.replaceChildren(el("p", { class: "note", text: t("district.unknown", { code }) }));
    } else clear(status);
    markReady(root);
  };

  const load = async () => {
    if (loading || disposed) return;
    loading = true;
    lastLoad = Date.now();
    try {
      const [data, map] = await Promise.all([getJSON(API.district(code)), store.map ?? getJSON(API.map).catch(() => null)]);
      if (map) store.map = map;
      if (!disposed) draw(data);
    } catch (error) {
      if (error instanceof AuthError) ctx.signedOut(t("signin.expired"));
      else if (!disposed) fill(status, errorBox(t("error.load", { message: error.message })));
    } finally {
      loading = false;
    }
  };
  load();

  return {
    root,
    // Live overview events say the data moved; the district is re-read at most every 5 s.
    update(type) {
      if (type === "overview" && Date.now() - lastLoad >= REFRESH_MS) load();
    },
    dispose() {
      disposed = true;
    },
  };
}
