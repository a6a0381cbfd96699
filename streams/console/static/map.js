// The regency map as inline SVG from /console/api/map: one path per district (approximate
// Voronoi cells, see the map's note), coloured on a 5-step scale of percent enumerated.
import { el, svg } from "./dom.js";
import { t } from "./i18n.js";
import { percent as formatPercent, isNumber } from "./format.js";

export const STEPS = [0, 20, 40, 60, 80];

// The class of a percent: step-0 (< 20 %) .. step-4 (>= 80 %, over 100 included); no target
// (percent null) is grey, so an unplanned district never looks like one at 0 %.
export function stepClass(percent) {
  if (!isNumber(percent)) return "no-target";
  let step = 0;
  for (let i = 0; i < STEPS.length; i += 1) if (percent >= STEPS[i]) step = i;
  return `step-${step}`;
}

export function legend() {
  const items = STEPS.map((low, i) => {
    const high = STEPS[i + 1];
    const text = high === undefined ? `≥ ${low}%` : `${low}–${high}%`;
    return el("li", {}, el("span", { class: `swatch step-${i}`, "aria-hidden": "true" }), text);
  });
  items.push(
    el("li", {}, el("span", { class: "swatch no-target", "aria-hidden": "true" }), t("legend.notarget")),
  );
  return el(
    "div",
    { class: "legend", "data-testid": "map-legend" },
    el("p", { class: "legend-title", id: "legend-title", text: t("legend.title") }),
    el("ul", { "aria-labelledby": "legend-title" }, items),
  );
}

function cellLabel(district, value, opens) {
  const vars = { name: district.name, code: district.code, percent: formatPercent(value) };
  const text = isNumber(value) ? t("map.cell", vars) : t("map.cell.notarget", vars);
  return opens ? `${text}. ${t("map.open")}` : text;
}

function villageDots(villages, percentOf, radius) {
  return villages.map((village) => {
    const value = percentOf ? percentOf(village.code) : null;
    return svg(
      "circle",
      {
        cx: village.x,
        cy: village.y,
        r: radius,
        class: `village ${percentOf ? stepClass(value) : ""}`.trim(),
        "data-village": village.code,
      },
      svg("title", { text: percentOf ? `${village.name}: ${formatPercent(value)}` : village.name }),
    );
  });
}

// A name is drawn only where it fits inside its cell's width; the small central cells keep
// their names in the tooltip, the accessible name and the table instead of overprinting.
const LABEL_EM = 0.019; // label font size per unit of map width

function labelFits(district, mapWidth) {
  const box = pathBounds(district.path);
  const size = LABEL_EM * mapWidth;
  return district.name.length * size * 0.6 <= box.maxX - box.minX && size * 1.2 <= box.maxY - box.minY;
}

// percentByDistrict: Map code -> percent (null = no target). open(code) navigates.
export function regencyMap(map, percentByDistrict, { open, regencyName }) {
  const [x0, y0, width, height] = map.view_box;
  const root = svg("svg", {
    class: "regency-map",
    viewBox: `${x0} ${y0} ${width} ${height}`,
    role: "group",
    "aria-label": t("overview.map.label", { regency: regencyName }),
    "data-testid": "regency-map",
  });
  const cells = svg("g", { class: "cells" });
  const labels = svg("g", { class: "labels", "aria-hidden": "true" });
  const dots = svg("g", { class: "villages" });
  // The outline of the hovered or focused cell, drawn above all cells (a cell's own stroke
  // is half hidden under its neighbours).
  const highlight = svg("path", { class: "highlight", d: "M 0,0 Z", "aria-hidden": "true" });
  const radius = Math.max(2, width / 160);
  const pathOf = new Map(map.districts.map((d) => [d.code, d.path]));
  let shown = null;

  // Village points of one district at a time: all of a regency's villages at once would
  // bury the colours the map is for.
  const show = (code) => {
    if (shown === code) return;
    shown = code;
    dots.replaceChildren(...(code ? villageDots(map.villages?.[code] ?? [], null, radius) : []));
    highlight.setAttribute("d", (code && pathOf.get(code)) || "M 0,0 Z");
  };

  for (const district of map.districts) {
    const value = percentByDistrict.get(district.code) ?? null;
    const path = svg("path", {
      d: district.path,
      class: `cell ${stepClass(value)}`,
      "data-district": district.code,
      "data-percent": isNumber(value) ? String(value) : "",
      // Only viewers who may open a district get a control; for the others it is a picture.
      tabindex: open ? "0" : undefined,
      role: open ? "button" : "img",
      "aria-label": cellLabel(district, value, Boolean(open)),
    });
    path.append(svg("title", { text: cellLabel(district, value, Boolean(open)) }));
    if (open) {
      path.addEventListener("click", () => open(district.code));
      path.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          open(district.code);
        }
      });
    }
    path.addEventListener("mouseenter", () => show(district.code));
    path.addEventListener("focus", () => show(district.code));
    path.addEventListener("blur", () => show(null));
    cells.append(path);
    if (district.label && labelFits(district, width)) {
      labels.append(
        svg("text", {
          x: district.label[0],
          y: district.label[1],
          "font-size": (LABEL_EM * width).toFixed(1),
          class: "cell-label",
          text: district.name,
        }),
      );
    }
  }
  root.addEventListener("mouseleave", () => show(null));
  root.append(cells, highlight, dots, labels);
  return root;
}

function pathBounds(d) {
  const numbers = (d.match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number);
  const xs = numbers.filter((_, i) => i % 2 === 0);
  const ys = numbers.filter((_, i) => i % 2 === 1);
  return { minX: Math.min(...xs), minY: Math.min(...ys), maxX: Math.max(...xs), maxY: Math.max(...ys) };
}

// One district zoomed in: its cell, the neighbours faint for context, its villages coloured
// by their own percent enumerated.
export function districtMap(map, code, percentByVillage, { name }) {
  const district = map.districts.find((d) => d.code === code);
  const villages = map.villages?.[code] ?? [];
  if (!district && !villages.length) return null;
  // Zoom to the villages, which are the data; the cell (a Voronoi approximation) can reach
  // far past them to the regency's edge and is drawn only as context.
  let box;
  if (villages.length) {
    const xs = villages.map((v) => v.x);
    const ys = villages.map((v) => v.y);
    box = { minX: Math.min(...xs), minY: Math.min(...ys), maxX: Math.max(...xs), maxY: Math.max(...ys) };
  } else box = pathBounds(district.path);
  const [, , mapWidth] = map.view_box;
  const pad = Math.max(box.maxX - box.minX, box.maxY - box.minY, mapWidth / 20) * 0.25;
  const w = box.maxX - box.minX + 2 * pad;
  const h = box.maxY - box.minY + 2 * pad;
  const root = svg("svg", {
    class: "district-map",
    viewBox: `${box.minX - pad} ${box.minY - pad} ${w} ${h}`,
    role: "img",
    "aria-label": t("district.map.label", { name }),
    "data-testid": "district-map",
  });
  const context = svg("g", { class: "context", "aria-hidden": "true" });
  for (const other of map.districts) {
    context.append(
      svg("path", { d: other.path, class: other.code === code ? "cell current" : "cell other" }),
    );
  }
  const radius = Math.max(w, h) / 60;
  root.append(context, svg("g", { class: "villages" }, villageDots(villages, percentByVillage, radius)));
  return root;
}
