// #/ : the regency map beside the key figures, and every district in a sortable table.
import { API, AuthError, getJSON } from "../api.js";
import { clear, fill, dataTable, el, errorBox, markReady, pageRoot, sortRows } from "../dom.js";
import { districtRows, totals } from "../figures.js";
import { fixed, isNumber, number, percent, raw, seconds } from "../format.js";
import { t } from "../i18n.js";
import { legend, regencyMap, stepClass } from "../map.js";

const TILES = [
  ["total-target", (v) => number(v)],
  ["total-enumerated", (v) => number(v)],
  ["total-percent", (v) => percent(v)],
  ["rate-per-hour", (v) => (isNumber(v) ? t("unit.perhour", { value: number(v) }) : t("none"))],
  ["days-left", (v) => (isNumber(v) ? `${fixed(v, 1)} ${t("tile.days-left.unit")}` : t("none"))],
  ["freshness-p50", (v) => seconds(v)],
  ["freshness-p95", (v) => seconds(v)],
  ["active-enumerators", (v) => number(v)],
  ["total-rejections", (v) => number(v)],
  ["total-awaiting", (v) => number(v)],
  ["total-approved", (v) => number(v)],
  ["total-returned", (v) => number(v)],
];

const COLUMNS = [
  { field: "code", sortable: true },
  { field: "name", sortable: true },
  { field: "target", numeric: true, format: (v) => number(v) },
  { field: "enumerated", numeric: true, format: (v) => number(v) },
  { field: "percent", numeric: true, sortable: true, format: (v) => percent(v) },
  { field: "rejected", numeric: true, format: (v) => number(v) },
  { field: "awaiting_review", numeric: true, format: (v) => number(v) },
  { field: "approved", numeric: true, format: (v) => number(v) },
  { field: "returned", numeric: true, format: (v) => number(v) },
];

// Sorting survives live updates and page changes within the tab.
let sort = { field: "code", direction: "ascending" };

function tiles() {
  const list = el("dl", { class: "tiles" });
  for (const [id] of TILES) {
    list.append(
      el(
        "div",
        { class: `tile tile-${id}` },
        el("dt", { text: t(`tile.${id}`) }),
        el("dd", { "data-testid": id, "data-value": "", text: t("none") }),
      ),
    );
  }
  return list;
}

function fillTiles(list, overview) {
  const values = totals(overview);
  for (const [id, format] of TILES) {
    const cell = list.querySelector(`[data-testid="${id}"]`);
    cell.dataset.value = raw(values[id]);
    cell.textContent = format(values[id]);
  }
}

function unplacedList(map) {
  if (!map.unplaced?.length) return null;
  return el(
    "div",
    { class: "unplaced", "data-testid": "unplaced" },
    el("h3", { text: t("overview.unplaced") }),
    el(
      "ul",
      {},
      map.unplaced.map((d) =>
        el("li", { "data-district": d.code }, el("a", { href: `#/district/${d.code}`, text: `${d.name} (${d.code})` })),
      ),
    ),
  );
}

function recolour(svgRoot, rows) {
  const byCode = new Map(rows.map((row) => [row.code, row.percent]));
  for (const path of svgRoot.querySelectorAll("path[data-district]")) {
    const value = byCode.get(path.dataset.district) ?? null;
    path.setAttribute("class", `cell ${stepClass(value)}`);
    path.dataset.percent = isNumber(value) ? String(value) : "";
  }
}

export function render(ctx) {
  const { store } = ctx;
  const root = pageRoot("overview");
  const regencyName = store.whoami.regency_name || store.whoami.regency;
  const status = el("div", { class: "page-status", "aria-live": "polite" }, el("p", { text: t("loading") }));
  const tileList = tiles();
  const mapBox = el("div", { class: "map-box" });
  const tableBox = el("div", { class: "table-box" });
  const operator = store.whoami.role === "operator";
  let mapSvg = null;

  root.append(
    el("h2", { class: "page-title", text: t("overview.title", { regency: regencyName }) }),
    status,
    el(
      "div",
      { class: "overview-grid" },
      el("section", { class: "panel map-panel", "aria-labelledby": "map-title" }, el("h3", { id: "map-title", text: t("overview.map") }), mapBox),
      el("section", { class: "panel tiles-panel", "aria-labelledby": "tiles-title" }, el("h3", { id: "tiles-title", text: t("overview.tiles") }), tileList),
    ),
    el("section", { class: "panel", "aria-labelledby": "districts-title" }, el("h3", { id: "districts-title", text: t("overview.districts") }), tableBox),
  );

  const drawTable = () => {
    const rows = sortRows(districtRows(store.map, store.overview), sort);
    const focused = document.activeElement?.dataset?.sort;
    fill(tableBox,
      dataTable({
        caption: t("overview.districts"),
        columns: COLUMNS.map((c) =>
          c.field === "name" && operator
            ? { ...c, format: (v, row) => el("a", { href: `#/district/${row.code}`, text: v }) }
            : c,
        ),
        rows,
        rowAttrs: (row) => ({ "data-district": row.code }),
        sort,
        onSort: (field) => {
          const direction = sort.field === field && sort.direction === "descending" ? "ascending" : "descending";
          sort = { field, direction: field === sort.field ? direction : field === "percent" ? "descending" : "ascending" };
          drawTable();
        },
      }),
    );
    if (focused) tableBox.querySelector(`[data-sort="${focused}"]`)?.focus();
    return rows;
  };

  const draw = () => {
    if (!store.map || !store.overview) return;
    const rows = drawTable();
    fillTiles(tileList, store.overview);
    if (!mapSvg) {
      const percents = new Map(rows.map((row) => [row.code, row.percent]));
      mapSvg = regencyMap(store.map, percents, {
        open: operator ? (code) => ctx.navigate(`#/district/${code}`) : null,
        regencyName,
      });
      fill(mapBox,
        el("figure", { class: "map-figure" }, mapSvg, legend(), el("figcaption", { class: "note", "data-testid": "map-note", text: t("map.note") })),
        unplacedList(store.map),
      );
    } else {
      recolour(mapSvg, rows);
    }
    clear(status);
    markReady(root);
  };

  const load = async () => {
    try {
      const [map, overview] = await Promise.all([
        store.map ?? getJSON(API.map),
        store.overview ?? getJSON(API.overview),
      ]);
      store.map = map;
      store.overview = store.overview ?? overview;
      draw();
    } catch (error) {
      if (error instanceof AuthError) ctx.signedOut(t("signin.expired"));
      else fill(status, errorBox(t("error.load", { message: error.message })));
    }
  };
  load();

  return {
    root,
    update(type) {
      if (type === "overview") draw();
    },
  };
}
