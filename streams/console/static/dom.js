// Small DOM builders. Everything from the server goes in through textContent or attributes,
// never innerHTML, so an id or a name can never become markup.
import { t } from "./i18n.js";
import { raw } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.setAttribute("class", value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  return node;
}

export function el(tag, attrs = {}, ...children) {
  const node = apply(document.createElement(tag), attrs);
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  const node = apply(document.createElementNS(SVG_NS, tag), attrs);
  node.append(...children.flat().filter(Boolean));
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// Replaces a node's children, skipping the null an optional part stands for.
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

// A page root: the e2e test waits for data-ready="true" before reading numbers.
export function pageRoot(name) {
  return el("section", {
    class: `page page-${name}`,
    "data-testid": `page-${name}`,
    "data-ready": "false",
  });
}

export function markReady(root) {
  root.dataset.ready = "true";
}

export function errorBox(message) {
  return el("p", { class: "error", role: "alert", text: message });
}

// A table whose rows are described by columns [{field, label, value(row), format(value), cls}]:
// every cell carries data-field and the raw value in data-value, the shown text formatted.
// stacked: on a phone each row becomes a card of "label: value" lines (labels from
// data-label), for tables whose last columns hold what the viewer came for (review buttons).
export function dataTable({ caption, columns, rows, rowAttrs, empty, sort, onSort, stacked }) {
  const head = el(
    "tr",
    {},
    columns.map((column) => {
      const label = column.label ?? t(`col.${column.field}`);
      const th = el("th", { scope: "col", class: column.numeric ? "num" : undefined });
      if (column.sortable && onSort) {
        const direction = sort?.field === column.field ? sort.direction : null;
        th.setAttribute("aria-sort", direction ?? "none");
        th.append(
          el("button", {
            type: "button",
            class: "sort",
            text: label,
            "aria-label": t("sort.by", { column: label }),
            "data-sort": column.field,
            onClick: () => onSort(column.field),
          }),
        );
      } else {
        th.textContent = label;
      }
      return th;
    }),
  );
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr", rowAttrs ? rowAttrs(row) : {});
    for (const column of columns) {
      const value = column.value ? column.value(row) : row[column.field];
      const td = el("td", {
        "data-label": stacked ? column.label ?? t(`col.${column.field}`) : undefined,
        "data-field": column.field,
        "data-value": column.rawValue ? column.rawValue(row) : raw(value),
        class: column.numeric ? "num" : undefined,
      });
      const shown = column.format ? column.format(value, row) : value ?? t("none");
      if (shown instanceof Node) td.append(shown);
      else td.textContent = String(shown);
      tr.append(td);
    }
    body.append(tr);
  }
  if (!rows.length) {
    body.append(el("tr", { class: "empty" }, el("td", { colspan: columns.length, text: empty ?? t("empty") })));
  }
  const table = el("table", {}, caption ? el("caption", { text: caption }) : null, el("thead", {}, head), body);
  // The scroll box, not the page, scrolls sideways on a phone; tabindex lets a keyboard scroll it.
  return el(
    "div",
    { class: stacked ? "table-scroll stacked" : "table-scroll", tabindex: "0", role: "region", "aria-label": caption ?? "" },
    table,
  );
}

export function section(title, ...children) {
  return el("section", { class: "panel" }, el("h2", { text: title }), ...children);
}

export function sortRows(rows, { field, direction }) {
  const sign = direction === "ascending" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = a[field];
    const y = b[field];
    // Rows without a value sort last whichever the direction: "no target" is not "0 %".
    if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
    if (y === null || y === undefined) return -1;
    if (typeof x === "number" && typeof y === "number") return sign * (x - y);
    return sign * String(x).localeCompare(String(y));
  });
}
