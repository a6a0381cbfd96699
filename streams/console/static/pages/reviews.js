// #/reviews: interviews awaiting a supervisor's review. Supervisors decide here (POST
// /v1/reviews, the same door as their apps); operators see the queue read-only.
import { API, ApiError, AuthError, getJSON, postJSON } from "../api.js";
import { clear, fill, dataTable, el, errorBox, markReady, pageRoot, section } from "../dom.js";
import { number, raw, shortTime } from "../format.js";
import { has, t } from "../i18n.js";

const REFRESH_MS = 10000;
const COUNTS = ["awaiting_review", "approved", "returned", "rejected_final"];

// What this tab sent, by household and revision, so a refresh of the queue keeps showing it
// until the worker has stored the decision and the row leaves the queue.
const outcomes = new Map();

const keyOf = (row) => `${row.household_id}#${row.revision}`;

// crypto.randomUUID exists only in secure contexts (https or localhost); a console opened over
// plain http on the LAN still needs a v4 UUID, which getRandomValues can make anywhere.
export function uuid4() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function decisionBody(row, supervisorId, decision, comment) {
  return {
    review_id: uuid4(),
    household_id: row.household_id,
    submission_id: row.submission_id,
    revision: row.revision,
    enumerator_id: row.enumerator_id,
    supervisor_id: supervisorId,
    decision,
    comment: comment ? comment : null,
    decided_at: new Date().toISOString(),
  };
}

function commentDialog() {
  const textarea = el("textarea", { id: "review-comment", name: "comment", rows: "4", required: true, "data-testid": "review-comment" });
  const problem = el("p", { class: "message", role: "alert" });
  const heading = el("h2", { id: "review-dialog-title" });
  const cancel = el("button", { type: "button", class: "secondary", "data-testid": "review-cancel", text: t("reviews.dialog.cancel") });
  const send = el("button", { type: "submit", "data-testid": "review-send", text: t("reviews.dialog.send") });
  const form = el(
    "form",
    { method: "dialog", novalidate: true },
    heading,
    el("label", { for: "review-comment", text: t("reviews.dialog.comment") }),
    textarea,
    problem,
    el("div", { class: "actions" }, cancel, send),
  );
  const dialog = el("dialog", { class: "review-dialog", "aria-labelledby": "review-dialog-title", "data-testid": "review-dialog" }, form);
  let resolve = null;
  const finish = (value) => {
    dialog.close();
    resolve?.(value);
    resolve = null;
  };
  cancel.addEventListener("click", () => finish(null));
  dialog.addEventListener("cancel", () => finish(null));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const comment = textarea.value.trim();
    if (!comment) {
      problem.textContent = t("reviews.dialog.required");
      textarea.focus();
      return;
    }
    finish(comment);
  });
  return {
    dialog,
    ask(title) {
      heading.textContent = title;
      textarea.value = "";
      problem.textContent = "";
      dialog.showModal();
      textarea.focus();
      return new Promise((done) => {
        resolve = done;
      });
    },
  };
}

function outcomeCell(row) {
  const outcome = outcomes.get(keyOf(row));
  if (!outcome) {
    const key = `status.${String(row.status ?? "").toLowerCase()}`;
    return el("span", { class: "status", text: has(key) ? t(key) : row.status ?? "" });
  }
  if (outcome.state === "sent") return el("span", { class: "status sent", "data-state": "sent", text: `${t("reviews.sent")} (${outcome.decision})` });
  if (outcome.state === "sending") return el("span", { class: "status", "data-state": "sending", text: t("reviews.sending") });
  return el("span", { class: "status error", "data-state": "error", role: "alert", text: t("reviews.error", { message: outcome.message }) });
}

export function render(ctx) {
  const { store } = ctx;
  const supervisor = store.whoami.role === "supervisor";
  const root = pageRoot("reviews");
  const status = el("div", { class: "page-status", "aria-live": "polite" }, el("p", { text: t("loading") }));
  const countsBox = el("div");
  const tableBox = el("div");
  const asker = supervisor ? commentDialog() : null;
  root.append(
    ...[
      el("h2", { class: "page-title", text: t("reviews.title") }),
      supervisor ? null : el("p", { class: "note", "data-testid": "reviews-readonly", text: t("reviews.readonly") }),
      status,
      countsBox,
      section(t("reviews.title"), tableBox),
      asker?.dialog,
    ].filter(Boolean),
  );
  let data = null;
  let timer = null;
  let disposed = false;

  const decide = async (row, decision) => {
    let comment = null;
    if (decision !== "APPROVED") {
      const title = t(decision === "RETURNED" ? "reviews.dialog.return" : "reviews.dialog.reject", { household: row.household_id });
      comment = await asker.ask(title);
      if (comment === null) return;
    }
    const key = keyOf(row);
    outcomes.set(key, { state: "sending", decision });
    drawTable();
    try {
      await postJSON(API.decide, decisionBody(row, store.whoami.id, decision, comment));
      outcomes.set(key, { state: "sent", decision });
    } catch (error) {
      const message = error instanceof ApiError ? error.message : String(error.message ?? error);
      outcomes.set(key, { state: "error", decision, message });
    }
    if (!disposed) drawTable();
  };

  const actions = (row) => {
    const outcome = outcomes.get(keyOf(row));
    const locked = outcome && outcome.state !== "error";
    const button = (decision, label, cls) =>
      el("button", {
        type: "button",
        class: `decide ${cls}`,
        "data-decision": decision,
        disabled: locked,
        text: t(label),
        onClick: () => decide(row, decision),
      });
    return el(
      "div",
      { class: "decisions" },
      button("APPROVED", "reviews.approve", "approve"),
      button("RETURNED", "reviews.return", "return"),
      button("REJECTED_FINAL", "reviews.reject", "reject"),
    );
  };

  const drawTable = () => {
    if (!data) return;
    // The decision sits next to the household it decides: on a phone the table scrolls
    // sideways, and a supervisor should not have to scroll to reach the buttons.
    const columns = [
      { field: "household_id", label: t("col.household") },
      { field: "revision", label: t("col.revision"), numeric: true, format: (v) => number(v) },
      { field: "status", label: t("col.status"), rawValue: (row) => outcomes.get(keyOf(row))?.state ?? row.status ?? "", format: (_v, row) => outcomeCell(row) },
      supervisor ? { field: "actions", label: t("col.actions"), rawValue: () => "", format: (_v, row) => actions(row) } : null,
      { field: "enumerator_id", label: t("col.enumerator") },
      { field: "village_code", label: t("col.village") },
      { field: "sls_code", label: t("col.sls") },
      { field: "submitted_at", label: t("col.submitted_at"), format: (v) => shortTime(v) },
      {
        field: "warning_codes",
        label: t("col.warnings"),
        rawValue: (row) => (row.warning_codes ?? []).join(","),
        format: (v) => (v?.length ? el("ul", { class: "codes" }, v.map((code) => el("li", { "data-code": code }, el("code", { text: code })))) : t("reviews.warnings.none")),
      },
    ].filter(Boolean);
    fill(
      tableBox,
      dataTable({
        caption: t("reviews.title"),
        stacked: true,
        columns,
        rows: data.awaiting ?? [],
        rowAttrs: (row) => ({ "data-household": row.household_id, "data-revision": row.revision, "data-review-state": outcomes.get(keyOf(row))?.state }),
      }),
    );
  };

  const drawCounts = () => {
    const counts = data?.counts ?? {};
    fill(countsBox,
      el(
        "dl",
        { class: "tiles compact panel", "aria-label": t("reviews.counts") },
        COUNTS.map((field) =>
          el("div", { class: "tile" }, el("dt", { text: t(`col.${field}`) }), el("dd", { "data-testid": `reviews-${field.replace(/_/g, "-")}`, "data-value": raw(counts[field] ?? null), text: number(counts[field]) })),
        ),
      ),
    );
  };

  const load = async () => {
    try {
      const answer = await getJSON(API.reviews);
      if (disposed) return;
      data = answer;
      // Keep focus where it is: a refresh while a supervisor tabs through the buttons must not
      // throw the focus back to the top of the page.
      const focused = document.activeElement?.closest?.("tr[data-household]");
      const focusKey = focused ? `${focused.dataset.household}|${document.activeElement.dataset.decision ?? ""}` : null;
      if (!asker?.dialog.open) drawTable();
      drawCounts();
      if (focusKey) {
        const [household, decision] = focusKey.split("|");
        tableBox.querySelector(`tr[data-household="${CSS.escape(household)}"] [data-decision="${decision}"]`)?.focus();
      }
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
