// Numbers and times in the viewer's language. Formatters are cached per locale because
// Intl constructors are slow and tables format thousands of cells on every live update.
import { locale, t } from "./i18n.js";

const cache = new Map();

function formatter(key, make) {
  const id = `${locale()}|${key}`;
  if (!cache.has(id)) cache.set(id, make(locale()));
  return cache.get(id);
}

export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

export function number(value, digits = 0) {
  if (!isNumber(value)) return t("none");
  const f = formatter(`n${digits}`, (loc) =>
    new Intl.NumberFormat(loc, { minimumFractionDigits: 0, maximumFractionDigits: digits }),
  );
  return f.format(value);
}

export function fixed(value, digits = 1) {
  if (!isNumber(value)) return t("none");
  const f = formatter(`f${digits}`, (loc) =>
    new Intl.NumberFormat(loc, { minimumFractionDigits: digits, maximumFractionDigits: digits }),
  );
  return f.format(value);
}

export function percent(value) {
  return isNumber(value) ? t("unit.percent", { value: fixed(value, 1) }) : t("none");
}

// A rate from the worker is a fraction (0.1234); shown as a percent with one decimal.
export function ratio(value) {
  return isNumber(value) ? percent(value * 100) : t("none");
}

export function seconds(ms) {
  return isNumber(ms) ? t("unit.seconds", { value: fixed(ms / 1000, 1) }) : t("none");
}

// Local time with its zone, so an operator in Jakarta and one in Makassar read the same
// instant correctly.
export function time(iso) {
  if (!iso) return t("none");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const f = formatter("time", (loc) =>
    new Intl.DateTimeFormat(loc, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZoneName: "short",
    }),
  );
  return f.format(date);
}

// Tables and the live badge: minutes are enough there, and a date only when it is not today.
export function shortTime(iso) {
  if (!iso) return t("none");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const today = new Date().toDateString() === date.toDateString();
  const f = formatter(today ? "clock" : "short", (loc) =>
    new Intl.DateTimeFormat(loc, {
      ...(today ? {} : { month: "short", day: "numeric" }),
      hour: "2-digit",
      minute: "2-digit",
      ...(today ? { second: "2-digit" } : {}),
      timeZoneName: "short",
    }),
  );
  return f.format(date);
}

// data-value carries the raw number for tests and copy-paste; null becomes "".
export function raw(value) {
  return value === null || value === undefined ? "" : String(value);
}
