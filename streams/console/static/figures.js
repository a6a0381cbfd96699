// The overview's numbers derived from the worker's answer, pure so the rules are in one place:
// the e2e test compares the tiles' data-value with the ground truth computed the same way.
import { isNumber } from "./format.js";

function sum(values) {
  return values.reduce((total, value) => total + (isNumber(value) ? value : 0), 0);
}

// Percent with one decimal, as the progress views round it (round(100 * e / t, 1)).
export function percentOf(enumerated, target) {
  if (!isNumber(target) || target <= 0 || !isNumber(enumerated)) return null;
  return Math.round((1000 * enumerated) / target) / 10;
}

export function totals(overview) {
  const districts = overview.districts ?? [];
  const reviews = Object.values(overview.review_status ?? {});
  const enumerated = isNumber(overview.enumerated) ? overview.enumerated : sum(districts.map((d) => d.enumerated));
  const target = isNumber(overview.target_total) ? overview.target_total : sum(districts.map((d) => d.target));
  return {
    "total-target": target,
    "total-enumerated": enumerated,
    "total-percent": percentOf(enumerated, target),
    "rate-per-hour": overview.enumerated_last_hour ?? null,
    "days-left": overview.days_left ?? null,
    "freshness-p50": overview.freshness_p50_ms ?? null,
    "freshness-p95": overview.freshness_p95_ms ?? null,
    "active-enumerators": overview.active_enumerators ?? null,
    "total-rejections": overview.totals?.rejections ?? null,
    "total-awaiting": sum(reviews.map((r) => r.awaiting_review)),
    "total-approved": sum(reviews.map((r) => r.approved)),
    "total-returned": sum(reviews.map((r) => r.returned)),
  };
}

// One row per district of the map and of the progress view (a district may be in either
// only): the table is the map's accessible twin, so it never lists fewer districts.
export function districtRows(map, overview) {
  const progress = new Map((overview?.districts ?? []).map((row) => [row.district_code, row]));
  const reviews = overview?.review_status ?? {};
  const names = new Map();
  for (const d of [...(map?.districts ?? []), ...(map?.unplaced ?? [])]) names.set(d.code, d.name);
  const codes = new Set([...names.keys(), ...progress.keys()]);
  return [...codes].sort().map((code) => {
    const row = progress.get(code) ?? {};
    const review = reviews[code] ?? {};
    const target = isNumber(row.target) ? row.target : null;
    return {
      code,
      name: row.district_name || names.get(code) || code,
      target,
      enumerated: row.enumerated ?? 0,
      percent: isNumber(row.percent) ? row.percent : percentOf(row.enumerated ?? 0, target),
      rejected: row.rejected ?? 0,
      awaiting_review: review.awaiting_review ?? 0,
      approved: review.approved ?? 0,
      returned: review.returned ?? 0,
    };
  });
}
