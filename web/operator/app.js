// Operator console: members (lookup, ledger, referrals, point adjustments, coupons and their
// void, export, erasure),
// rewards, program rules, the audit trail and the program dashboard (GET /admin/kpis).
// Static, no framework; every API text goes into the page through textContent.

import { barChart, lineChart } from "./charts.js";

const TOKEN_KEY = "loyalty.operator.token";
const LEDGER_PAGE_SIZE = 20;
const TIERS = ["Bronze", "Silver", "Gold"];

const $ = (id) => document.getElementById(id);
const numbers = new Intl.NumberFormat();
const signed = new Intl.NumberFormat(undefined, { signDisplay: "exceptZero" });
const percent = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
// Operators compare with logs and support tickets: show times in UTC, as the API does.
const utcDateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
const utcDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
const dayLabel = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
const monthLabel = new Intl.DateTimeFormat(undefined, { month: "short", year: "numeric", timeZone: "UTC" });
const monthShort = new Intl.DateTimeFormat(undefined, { month: "short", timeZone: "UTC" });

const state = {
  config: null,
  apiBase: null,
  token: null,
  member: null,
  memberId: null,
  cursors: [null],
  page: 0,
  ledgerBusy: false,
  adjustment: null, // {points, reason, key} while the confirmation is shown or the request runs
  coupons: [],
  voiding: null, // {coupon, sending} while a void's confirmation is shown or its request runs
  rewards: [],
  program: null, // the document as last loaded (its version is the one a save is based on)
  audit: [],
  kpis: null,
};

class ApiError extends Error {
  constructor(status, message, errors = []) {
    super(message);
    this.status = status;
    this.errors = errors; // [{field, problem}] on a 422
  }
}

function setStatus(text) {
  $("status").textContent = text;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

async function api(path, { method = "GET", body, headers = {} } = {}) {
  let response;
  try {
    response = await fetch(new URL(path.replace(/^\//, ""), state.apiBase), {
      method,
      headers: {
        Authorization: `Bearer ${state.token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "Could not reach the loyalty API.");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(
      response.status,
      data && typeof data.message === "string" ? data.message : `Request failed (${response.status}).`,
      data && Array.isArray(data.errors) ? data.errors : [],
    );
  }
  return data;
}

// A 401 anywhere ends the session; other errors are the caller's to show.
function sessionEnded(error) {
  if (error.status !== 401) return false;
  signedOut("Your session has ended. Please sign in again.");
  return true;
}

function pointsText(n) {
  return `${numbers.format(n)} ${Math.abs(n) === 1 ? "point" : "points"}`;
}

function say(node, text, kind = "") {
  node.textContent = text;
  node.className = `message${kind ? ` ${kind}` : ""}`;
}

// A random Idempotency-Key (crypto.randomUUID needs a secure context: fall back to random bytes).
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Validation errors beside their fields: `fields` maps an API field name ("points", "cost",
// "minTier") to the id of its input; the error paragraph is `${inputId}-error`. Answers the
// errors no field took.
function clearFieldErrors(fields) {
  for (const id of Object.values(fields)) {
    $(id).removeAttribute("aria-invalid");
    $(`${id}-error`).textContent = "";
  }
}

function showFieldErrors(fields, errors) {
  const rest = [];
  let first = null;
  for (const { field, problem } of errors) {
    const name = String(field || "").split(".").pop();
    const id = fields[name];
    if (!id) {
      rest.push(`${field}: ${problem}`);
      continue;
    }
    const note = $(`${id}-error`);
    note.textContent = note.textContent ? `${note.textContent}; ${problem}` : problem;
    $(id).setAttribute("aria-invalid", "true");
    first = first || $(id);
  }
  if (first) first.focus();
  return rest;
}

// ---- members ----------------------------------------------------------------------------

function fact(label, value) {
  return el("div", {}, el("dt", { text: label }), el("dd", { text: value }));
}

function renderMember(member) {
  state.member = member;
  state.memberId = member.memberId;
  $("member-title").textContent = `Member ${member.memberId}`;
  const expiring = (member.expiring || [])
    .slice(0, 3)
    .map((lot) => `${numbers.format(lot.points)} on ${utcDate.format(new Date(lot.expiresAt))}`)
    .join("; ");
  $("member-facts").replaceChildren(
    fact("Name", member.name || "—"),
    fact("Email", member.email || "—"),
    fact("Tier", member.tier),
    fact("Balance", numbers.format(member.balance)),
    fact("Pending", numbers.format(member.pendingPoints)),
    fact("Tier points", numbers.format(member.tierPoints)),
    fact("Next tier", member.nextTier ? `${member.nextTier.name} in ${numbers.format(member.nextTier.pointsNeeded)}` : "Top tier"),
    fact("Expiring", expiring || "Nothing"),
    fact("Referral code", member.referralCode || "—"),
    fact("Enrolled", member.enrolledAt ? utcDate.format(new Date(member.enrolledAt)) : "—"),
    fact("Marketing consent", member.marketingConsent ? "Yes" : "No"),
  );
}

async function loadReferrals() {
  const box = $("member-referrals");
  try {
    const r = await api(`members/${encodeURIComponent(state.memberId)}/referrals`);
    box.replaceChildren(
      fact("Completed", numbers.format(r.completed)),
      fact("Pending", numbers.format(r.pending)),
      fact("Points earned", numbers.format(r.pointsEarned)),
    );
  } catch (error) {
    if (sessionEnded(error)) return;
    box.replaceChildren(fact("Referrals", `Unavailable: ${error.message}`));
  }
}

function showMember(member) {
  renderMember(member);
  resetAdjustment();
  resetVoid();
  say($("adjust-message"), "");
  say($("coupons-message"), "");
  say($("privacy-message"), "");
  $("erase-confirm").value = "";
  $("erase-member").disabled = true;
  $("member").hidden = false;
  state.cursors = [null];
  state.page = 0;
  return Promise.all([loadLedger(), loadReferrals(), loadCoupons()]);
}

// While a page loads, the pager buttons stay enabled but inert (aria-disabled): disabling the
// focused button would drop keyboard focus to the page body.
function setPagerBusy(busy) {
  state.ledgerBusy = busy;
  for (const id of ["ledger-prev", "ledger-next"]) $(id).setAttribute("aria-disabled", String(busy));
  $("ledger").setAttribute("aria-busy", String(busy));
}

async function loadLedger() {
  const body = $("ledger").tBodies[0];
  const query = new URLSearchParams({ limit: String(LEDGER_PAGE_SIZE) });
  const cursor = state.cursors[state.page];
  if (cursor) query.set("cursor", cursor);
  setPagerBusy(true);
  let page;
  try {
    page = await api(`members/${encodeURIComponent(state.memberId)}/activity?${query}`);
  } finally {
    setPagerBusy(false);
  }
  body.replaceChildren(
    ...page.items.map((entry) =>
      el(
        "tr",
        { "data-entry": entry.entryId },
        el("td", { "data-label": "When" }, el("time", { dateTime: entry.occurredAt, text: utcDateTime.format(new Date(entry.occurredAt)) })),
        el("td", { "data-label": "Type", text: entry.type }),
        el("td", { "data-label": "Reason", text: entry.reason }),
        el("td", { "data-label": "Points", class: `num ${entry.points < 0 ? "minus" : "plus"}`, text: signed.format(entry.points) }),
        el("td", { "data-label": "Reference", class: "ref", text: entry.reference }),
      ),
    ),
  );
  if (!page.items.length) body.replaceChildren(el("tr", {}, el("td", { colSpan: 5, text: "No entries." })));
  state.cursors[state.page + 1] = page.nextCursor || null;
  const focused = document.activeElement;
  const prev = $("ledger-prev");
  const next = $("ledger-next");
  prev.disabled = state.page === 0;
  next.disabled = !page.nextCursor;
  // The first or the last page disables the button just used: keep focus in the pager.
  if (focused === prev && prev.disabled && !next.disabled) next.focus();
  if (focused === next && next.disabled && !prev.disabled) prev.focus();
  $("ledger-page").textContent = `Page ${state.page + 1}`;
}

function turnPage(delta) {
  if (state.ledgerBusy) return;
  state.page = Math.max(0, state.page + delta);
  loadLedger().catch((error) => {
    if (!sessionEnded(error)) setStatus(error.message);
  });
}

async function lookup(by, query) {
  const message = $("lookup-message");
  const choices = $("lookup-choices");
  choices.hidden = true;
  say(message, "Searching…");
  try {
    if (by === "email") {
      const result = await api(`admin/members?${new URLSearchParams({ email: query })}`);
      if (!result.items.length) throw new ApiError(404, `No member with the email ${query}.`);
      if (result.items.length > 1) {
        say(message, `${result.items.length} members share this email; choose one.`);
        choices.replaceChildren(
          ...result.items.map((member) => {
            const button = el("button", { type: "button", text: `${member.memberId} (${member.name || "no name"})` });
            button.addEventListener("click", () => lookup("id", member.memberId));
            return el("li", {}, button);
          }),
        );
        choices.hidden = false;
        return;
      }
      await showMember(result.items[0]);
    } else {
      await showMember(await api(`members/${encodeURIComponent(query)}`));
    }
    say(message, "");
    $("member").focus();
  } catch (error) {
    if (sessionEnded(error)) return;
    $("member").hidden = true;
    say(message, error.message, "error");
  }
}

// ---- adjustments ------------------------------------------------------------------------

const ADJUST_FIELDS = { points: "adjust-points", reason: "adjust-reason" };

function resetAdjustment() {
  state.adjustment = null;
  $("adjust-confirm").hidden = true;
  $("adjust-go").disabled = false;
  clearFieldErrors(ADJUST_FIELDS);
}

function reviewAdjustment(event) {
  event.preventDefault();
  resetAdjustment();
  say($("adjust-message"), "");
  const raw = $("adjust-points").value.trim();
  const points = Number(raw);
  const reason = $("adjust-reason").value.trim();
  const problems = [];
  if (!/^[-+]?\d+$/.test(raw) || points === 0) problems.push({ field: "points", problem: "Enter a whole number of points other than zero, negative to take points away." });
  if (!reason) problems.push({ field: "reason", problem: "Give a reason; the member sees it in their activity." });
  if (problems.length) {
    showFieldErrors(ADJUST_FIELDS, problems);
    return;
  }
  // One key per confirmed intent: a double click, or a retry after a network error, sends the
  // same key and the API adjusts once.
  state.adjustment = { points, reason, key: newKey() };
  const balance = state.member.balance;
  const verb = points > 0 ? `Add ${numbers.format(points)} points to` : `Take ${numbers.format(-points)} points from`;
  $("adjust-summary").textContent =
    `${verb} ${state.memberId} for “${reason}”? The balance goes from ${numbers.format(balance)} to ${numbers.format(balance + points)}.`;
  $("adjust-confirm").hidden = false;
  $("adjust-go").focus();
}

async function confirmAdjustment() {
  const adjustment = state.adjustment;
  if (!adjustment || adjustment.sending) return;
  adjustment.sending = true;
  $("adjust-go").disabled = true;
  const message = $("adjust-message");
  say(message, "Adjusting…");
  try {
    const result = await api(`admin/members/${encodeURIComponent(state.memberId)}/adjustments`, {
      method: "POST",
      body: { points: adjustment.points, reason: adjustment.reason },
      headers: { "Idempotency-Key": adjustment.key },
    });
    resetAdjustment();
    $("adjust-points").value = "";
    $("adjust-reason").value = "";
    say(message, `Adjusted by ${signed.format(result.points)} points. The balance is now ${numbers.format(result.balance)}.`, "success");
    renderMember(await api(`members/${encodeURIComponent(state.memberId)}`));
    state.cursors = [null];
    state.page = 0;
    await loadLedger();
  } catch (error) {
    if (sessionEnded(error)) return;
    adjustment.sending = false;
    if (error.status === 409) {
      resetAdjustment();
      say(
        message,
        `Refused: taking ${numbers.format(-adjustment.points)} points would leave ${state.memberId} below zero ` +
          `(the balance is ${numbers.format(state.member.balance)}). Nothing changed. (${error.message})`,
        "error",
      );
      // The balance the refusal was about: show the member as the API has it now.
      api(`members/${encodeURIComponent(state.memberId)}`).then(renderMember, () => {});
    } else if (error.status === 422) {
      resetAdjustment();
      const rest = showFieldErrors(ADJUST_FIELDS, error.errors);
      say(message, [error.message, ...rest].join(" "), "error");
    } else {
      // Network or server trouble: the same key may be retried safely.
      $("adjust-go").disabled = false;
      say(message, `The adjustment may not have been made: ${error.message} Confirm again to retry; it will not be applied twice.`, "error");
    }
  }
}

// ---- coupons ----------------------------------------------------------------------------

const COUPON_STATUS = { active: "Active", used: "Used", voided: "Voided", expired: "Expired" };

function couponEnd(coupon) {
  const at = (iso) => utcDateTime.format(new Date(iso));
  if (coupon.status === "used" && coupon.usedAt) {
    return `Used ${at(coupon.usedAt)}${coupon.usedByOrder ? ` (order ${coupon.usedByOrder})` : ""}`;
  }
  if (coupon.status === "voided" && coupon.voidedAt) return `Voided ${at(coupon.voidedAt)}`;
  if (!coupon.expiresAt) return "—";
  return `${coupon.status === "expired" ? "Expired" : "Expires"} ${at(coupon.expiresAt)}`;
}

function couponRow(coupon) {
  const actions = el("td", { "data-label": "Actions" });
  if (coupon.status === "active") {
    const button = el("button", {
      type: "button",
      text: "Void",
      "aria-label": `Void ${coupon.code}`,
      "data-void": coupon.code,
    });
    button.disabled = Boolean(state.voiding && state.voiding.sending && state.voiding.coupon.code === coupon.code);
    button.addEventListener("click", () => reviewVoid(coupon));
    actions.append(el("div", { class: "row-actions" }, button));
  } else {
    actions.textContent = "—";
  }
  return el(
    "tr",
    { "data-code": coupon.code, "data-status": coupon.status },
    el("td", { "data-label": "Code" }, el("code", { text: coupon.code })),
    el("td", { "data-label": "Reward", text: coupon.rewardName || coupon.rewardId }),
    el("td", { "data-label": "Status", text: COUPON_STATUS[coupon.status] || coupon.status }),
    el(
      "td",
      { "data-label": "Issued" },
      el("time", { dateTime: coupon.issuedAt, text: utcDateTime.format(new Date(coupon.issuedAt)) }),
    ),
    el("td", { "data-label": "Until / on", text: couponEnd(coupon) }),
    el("td", { "data-label": "Points", class: "num", text: numbers.format(coupon.points) }),
    actions,
  );
}

async function loadCoupons() {
  const table = $("coupons-table");
  const body = table.tBodies[0];
  table.setAttribute("aria-busy", "true");
  try {
    state.coupons = (await api(`members/${encodeURIComponent(state.memberId)}/coupons`)).items;
    body.replaceChildren(...state.coupons.map(couponRow));
    if (!state.coupons.length) body.replaceChildren(el("tr", {}, el("td", { colSpan: 7, text: "No coupons." })));
  } catch (error) {
    if (sessionEnded(error)) return;
    state.coupons = [];
    body.replaceChildren(el("tr", {}, el("td", { colSpan: 7, text: `The coupons are unavailable: ${error.message}` })));
  } finally {
    table.setAttribute("aria-busy", "false");
  }
}

function resetVoid() {
  state.voiding = null;
  $("void-confirm").hidden = true;
  $("void-go").disabled = false;
  $("void-reason").value = "";
}

function reviewVoid(coupon) {
  resetVoid();
  say($("coupons-message"), "");
  state.voiding = { coupon, sending: false };
  $("void-summary").textContent =
    `Void coupon ${coupon.code} (${coupon.rewardName || coupon.rewardId}) of ${state.memberId}? ` +
    `${pointsText(coupon.points)} go back to the balance, as if it had never been redeemed; any of them ` +
    "taken from points that have expired since stay expired. The code stops working at the checkout.";
  $("void-confirm").hidden = false;
  $("void-reason").focus();
}

function voidButton(code) {
  return document.querySelector(`#coupons-table button[data-void="${CSS.escape(code)}"]`);
}

async function confirmVoid(event) {
  event.preventDefault();
  const voiding = state.voiding;
  if (!voiding || voiding.sending) return;
  voiding.sending = true;
  const { code } = voiding.coupon;
  // Both buttons stay disabled while the request runs: a double click voids once (and the API
  // answers a repeated void the same anyway).
  $("void-go").disabled = true;
  const row = voidButton(code);
  if (row) row.disabled = true;
  const message = $("coupons-message");
  const reason = $("void-reason").value.trim();
  say(message, `Voiding ${code}…`);
  try {
    const result = await api(`coupons/${encodeURIComponent(code)}/void`, {
      method: "POST",
      body: reason ? { reason } : {},
    });
    resetVoid();
    let text = `Coupon ${code} voided: ${pointsText(result.pointsReturned)} returned.`;
    if (result.pointsExpired) {
      text += ` ${pointsText(result.pointsExpired)} had expired since and stay expired.`;
    }
    say(message, text, "success");
    message.focus();
    // The balance, the ledger (its coupon-voided entry) and the coupon's status all changed.
    state.cursors = [null];
    state.page = 0;
    await Promise.all([
      api(`members/${encodeURIComponent(state.memberId)}`).then(renderMember),
      loadLedger(),
      loadCoupons(),
    ]).catch((error) => {
      if (!sessionEnded(error)) setStatus(error.message);
    });
  } catch (error) {
    if (sessionEnded(error)) return;
    if (error.status === 409 || error.status === 404) {
      // Refused: show the coupon as it is now, and why in words.
      resetVoid();
      await loadCoupons();
      const now = state.coupons.find((c) => c.code === code);
      let why = error.status === 404 ? "it was not found" : "it was used or has expired";
      if (now && now.status === "used") {
        why =
          `it was used${now.usedAt ? ` on ${utcDate.format(new Date(now.usedAt))}` : ""}` +
          `${now.usedByOrder ? ` for order ${now.usedByOrder}` : ""}: its discount was given`;
      } else if (now && now.status === "expired") {
        why = `it expired${now.expiresAt ? ` on ${utcDate.format(new Date(now.expiresAt))}` : ""}: its points are not returned`;
      }
      say(message, `Not voided: coupon ${code} cannot be voided because ${why}. No points went back. (${error.message})`, "error");
      message.focus();
    } else {
      // Network or server trouble: voiding again is safe (a repeated void answers the same).
      voiding.sending = false;
      $("void-go").disabled = false;
      if (row) row.disabled = false;
      say(message, `The coupon may not have been voided: ${error.message} Confirm again to retry; the points go back once.`, "error");
    }
  }
}

// ---- export and erasure -----------------------------------------------------------------

async function exportMember() {
  const message = $("privacy-message");
  const memberId = state.memberId;
  say(message, "Exporting…");
  try {
    const data = await api(`members/${encodeURIComponent(memberId)}/export`);
    const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
    const link = el("a", { href: url, download: `member-${memberId.replace(/[^\w.-]+/g, "_")}-export.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    say(message, `Exported ${numbers.format(data.activity.length)} ledger entries and the profile of ${memberId}.`, "success");
  } catch (error) {
    if (!sessionEnded(error)) say(message, `Export failed: ${error.message}`, "error");
  }
}

async function eraseMember(event) {
  event.preventDefault();
  const memberId = state.memberId;
  const message = $("privacy-message");
  if ($("erase-confirm").value !== memberId) {
    say(message, `Type ${memberId} exactly to confirm.`, "error");
    return;
  }
  $("erase-member").disabled = true;
  say(message, "Erasing…");
  try {
    await api(`members/${encodeURIComponent(memberId)}`, { method: "DELETE" });
    $("member").hidden = true;
    say($("lookup-message"), `Member ${memberId} was erased: the balance is forfeited and the personal data removed.`, "success");
    $("lookup-query").value = "";
    $("lookup-query").focus();
    state.member = null;
    state.memberId = null;
  } catch (error) {
    if (sessionEnded(error)) return;
    $("erase-member").disabled = false;
    say(message, `Erasure failed: ${error.message}`, "error");
  }
}

// ---- rewards ----------------------------------------------------------------------------

const REWARD_FIELDS = {
  rewardId: "reward-id",
  name: "reward-name",
  kind: "reward-kind",
  cost: "reward-cost",
  minTier: "reward-min-tier",
  discountPercent: "reward-discount",
  stock: "reward-stock",
};

function rewardRow(reward) {
  const edit = el("button", { type: "button", text: "Edit", "aria-label": `Edit ${reward.name}` });
  edit.addEventListener("click", () => openRewardForm(reward));
  const toggle = el("button", {
    type: "button",
    text: reward.active ? "Retire" : "Restore",
    "aria-label": `${reward.active ? "Retire" : "Restore"} ${reward.name}`,
  });
  toggle.addEventListener("click", () => saveReward({ ...reward, active: !reward.active }, toggle));
  const detail = reward.kind === "discount" && reward.discountPercent != null ? ` (${reward.discountPercent}%)` : "";
  return el(
    "tr",
    { "data-reward": reward.rewardId },
    el("td", { "data-label": "Reward" }, el("span", { class: "strong", text: reward.name }), el("br"), el("code", { text: reward.rewardId })),
    el("td", { "data-label": "Kind", text: `${reward.kind}${detail}` }),
    el("td", { "data-label": "Cost", class: "num", text: numbers.format(reward.cost) }),
    el("td", { "data-label": "Min. tier", text: reward.minTier }),
    el("td", { "data-label": "Stock", class: "num", text: reward.stock == null ? "Unlimited" : numbers.format(reward.stock) }),
    el("td", { "data-label": "Status", text: reward.active ? "Active" : "Retired" }),
    el("td", { "data-label": "Actions" }, el("div", { class: "row-actions" }, edit, toggle)),
  );
}

async function loadRewards() {
  const message = $("rewards-message");
  try {
    state.rewards = (await api("admin/rewards")).items;
    $("rewards-table").tBodies[0].replaceChildren(...state.rewards.map(rewardRow));
    if (message.classList.contains("error")) say(message, "");
  } catch (error) {
    if (!sessionEnded(error)) say(message, `The rewards are unavailable: ${error.message}`, "error");
  }
}

function openRewardForm(reward) {
  const form = $("reward-form");
  clearFieldErrors(REWARD_FIELDS);
  say($("reward-form-message"), "");
  form.dataset.mode = reward ? "edit" : "create";
  $("reward-form-title").textContent = reward ? `Edit ${reward.name}` : "New reward";
  $("reward-id").value = reward ? reward.rewardId : "";
  $("reward-id").readOnly = Boolean(reward);
  $("reward-name").value = reward ? reward.name : "";
  $("reward-kind").value = reward ? reward.kind : "discount";
  $("reward-cost").value = reward ? String(reward.cost) : "";
  $("reward-min-tier").value = reward ? reward.minTier : "Bronze";
  $("reward-discount").value = reward && reward.discountPercent != null ? String(reward.discountPercent) : "";
  $("reward-stock").value = reward && reward.stock != null ? String(reward.stock) : "";
  $("reward-active").checked = reward ? reward.active : true;
  form.hidden = false;
  (reward ? $("reward-name") : $("reward-id")).focus();
}

// A number field as the API wants it: empty is absent, a whole number is a number, anything
// else goes as typed (the API answers what is wrong with it, beside the field).
function numberField(id) {
  const raw = $(id).value.trim();
  if (raw === "") return undefined;
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

function rewardFromForm() {
  const reward = {
    rewardId: $("reward-id").value.trim(),
    name: $("reward-name").value.trim(),
    kind: $("reward-kind").value,
    cost: numberField("reward-cost"),
    minTier: $("reward-min-tier").value,
    discountPercent: numberField("reward-discount"),
    stock: numberField("reward-stock"),
    active: $("reward-active").checked,
  };
  // A typed-in number the browser cannot read (e.g. "12abc") leaves the field empty: say so.
  for (const name of ["cost", "discountPercent", "stock"]) {
    if (reward[name] === undefined && $(REWARD_FIELDS[name]).validity.badInput) reward[name] = "not a number";
  }
  return reward;
}

// PUT /admin/rewards/{id}: the whole reward. `button` is the row button (retire, restore) or
// none for the form.
async function saveReward(reward, button) {
  const fromForm = !button;
  const message = fromForm ? $("reward-form-message") : $("rewards-message");
  if (fromForm) clearFieldErrors(REWARD_FIELDS);
  if (!reward.rewardId) {
    showFieldErrors(REWARD_FIELDS, [{ field: "rewardId", problem: "Give the reward an id (letters, digits, dashes)." }]);
    return;
  }
  const body = {};
  for (const key of ["name", "kind", "cost", "minTier", "discountPercent", "stock", "active"]) {
    if (reward[key] !== undefined && reward[key] !== null) body[key] = reward[key];
  }
  if (button) button.disabled = true;
  say(message, "Saving…");
  try {
    const saved = await api(`admin/rewards/${encodeURIComponent(reward.rewardId)}`, { method: "PUT", body });
    await loadRewards();
    if (fromForm) $("reward-form").hidden = true;
    const what = reward.active === false ? "retired" : fromForm ? "saved" : "restored";
    say($("rewards-message"), `${saved.name} (${saved.rewardId}) ${what}.`, "success");
    $("rewards-message").scrollIntoView?.({ block: "nearest" });
  } catch (error) {
    if (sessionEnded(error)) return;
    if (button) button.disabled = false;
    let errors = error.errors;
    // A rule across fields (discountPercent with the kind) comes as a message naming the field.
    if (error.status === 422 && !errors.length) {
      const named = Object.keys(REWARD_FIELDS).find((name) => name !== "name" && error.message.includes(name));
      if (named) errors = [{ field: named, problem: error.message.replace(/^.*?Value error, /, "") }];
    }
    const rest = fromForm && error.status === 422 ? showFieldErrors(REWARD_FIELDS, errors) : errors.map((e) => `${e.field}: ${e.problem}`);
    say(message, [`Not saved: ${error.message}`, ...rest].join(" "), "error");
  }
}

// ---- badges and challenges --------------------------------------------------------------

const COUNT_KINDS = ["reviews", "orders", "referrals", "shares", "categories"];

function conditionText(condition) {
  if (condition.kind === "tier") return `${condition.tier} reached`;
  if (condition.kind === "tenure") return `${numbers.format(condition.months)} months as a member`;
  const per = condition.per === "calendarMonth" ? " in a calendar month" : "";
  return `${numbers.format(condition.count)} ${condition.kind}${per}`;
}

function badgeRow(badge) {
  const edit = el("button", { type: "button", text: "Edit", "aria-label": `Edit ${badge.name}` });
  edit.addEventListener("click", () => openBadgeForm(badge));
  const toggle = el("button", {
    type: "button",
    text: badge.active ? "Retire" : "Restore",
    "aria-label": `${badge.active ? "Retire" : "Restore"} ${badge.name}`,
  });
  toggle.addEventListener("click", () => saveBadge({ ...badge, active: !badge.active }, toggle));
  const dates = badge.window ? `${badge.window.startsOn} to ${badge.window.endsOn}` : "Always";
  return el(
    "tr",
    { "data-badge": badge.badgeId },
    el("td", { "data-label": "Badge" }, el("span", { class: "strong", text: badge.name }), el("br"), el("code", { text: badge.badgeId })),
    el("td", { "data-label": "Condition", text: conditionText(badge.condition) }),
    el("td", { "data-label": "Points", class: "num", text: numbers.format(badge.points) }),
    el("td", { "data-label": "Window", text: dates }),
    el("td", { "data-label": "Status", text: badge.active ? "Active" : "Retired" }),
    el("td", { "data-label": "Actions" }, el("div", { class: "row-actions" }, edit, toggle)),
  );
}

async function loadBadges() {
  const message = $("badges-message");
  try {
    const badges = (await api("admin/badges")).items;
    $("badges-table").tBodies[0].replaceChildren(...badges.map(badgeRow));
    if (!badges.length) {
      $("badges-table").tBodies[0].replaceChildren(el("tr", {}, el("td", { colSpan: 6, class: "muted", text: "No badges defined yet." })));
    }
    if (message.classList.contains("error")) say(message, "");
  } catch (error) {
    if (!sessionEnded(error)) say(message, `The badges are unavailable: ${error.message}`, "error");
  }
}

function openBadgeForm(badge) {
  const form = $("badge-form");
  say($("badge-form-message"), "");
  const condition = badge ? badge.condition : { kind: "reviews", count: 1 };
  $("badge-form-title").textContent = badge ? `Edit ${badge.name}` : "New badge";
  $("badge-id").value = badge ? badge.badgeId : "";
  $("badge-id").readOnly = Boolean(badge);
  $("badge-name").value = badge ? badge.name : "";
  $("badge-description").value = badge ? badge.description : "";
  $("badge-kind").value = condition.kind;
  $("badge-count").value = String(condition.count ?? condition.months ?? "");
  $("badge-tier").value = condition.tier || "Gold";
  $("badge-per-month").checked = condition.per === "calendarMonth";
  $("badge-points").value = badge ? String(badge.points) : "0";
  $("badge-starts").value = badge?.window?.startsOn || "";
  $("badge-ends").value = badge?.window?.endsOn || "";
  $("badge-active").checked = badge ? badge.active : true;
  form.hidden = false;
  (badge ? $("badge-name") : $("badge-id")).focus();
}

function badgeFromForm() {
  const kind = $("badge-kind").value;
  const condition = { kind };
  if (kind === "tier") condition.tier = $("badge-tier").value;
  else if (kind === "tenure") condition.months = numberField("badge-count");
  else {
    condition.count = numberField("badge-count");
    if ($("badge-per-month").checked) condition.per = "calendarMonth";
  }
  const badge = {
    badgeId: $("badge-id").value.trim(),
    name: $("badge-name").value.trim(),
    description: $("badge-description").value.trim(),
    condition,
    points: numberField("badge-points") ?? 0,
    active: $("badge-active").checked,
  };
  const startsOn = $("badge-starts").value;
  const endsOn = $("badge-ends").value;
  if (startsOn || endsOn) badge.window = { startsOn: startsOn || endsOn, endsOn: endsOn || startsOn };
  return badge;
}

// PUT /admin/badges/{id}: the whole definition. `button`: the row's retire/restore, or none.
async function saveBadge(badge, button) {
  const fromForm = !button;
  const message = fromForm ? $("badge-form-message") : $("badges-message");
  if (!badge.badgeId) {
    say(message, "Give the badge an id (lower-case letters, digits, dashes).", "error");
    return;
  }
  const { badgeId, ...body } = badge;
  if (!COUNT_KINDS.includes(body.condition.kind)) delete body.condition.per;
  if (body.window == null) delete body.window;
  if (button) button.disabled = true;
  say(message, "Saving…");
  try {
    const saved = await api(`admin/badges/${encodeURIComponent(badgeId)}`, { method: "PUT", body });
    await loadBadges();
    if (fromForm) $("badge-form").hidden = true;
    const what = badge.active === false ? "retired" : fromForm ? "saved" : "restored";
    say($("badges-message"), `${saved.name} (${saved.badgeId}) ${what}.`, "success");
  } catch (error) {
    if (sessionEnded(error)) return;
    if (button) button.disabled = false;
    const details = (error.errors || []).map((e) => `${e.field}: ${e.problem}`);
    say(message, [`Not saved: ${error.message}`, ...details].join(" "), "error");
  }
}

// ---- program rules ----------------------------------------------------------------------

function programVersion(doc) {
  return doc && doc.version != null ? String(doc.version) : "—";
}

async function loadProgram() {
  const message = $("program-message");
  try {
    state.program = await api("admin/program");
    $("program-json").value = JSON.stringify(state.program, null, 2);
    $("program-version").textContent = `Version ${programVersion(state.program)} in force; you are editing it.`;
    checkProgramJson();
    say(message, "");
  } catch (error) {
    if (!sessionEnded(error)) say(message, `The program rules are unavailable: ${error.message}`, "error");
  }
}

// Inline validation while typing: the document must be a JSON object; the API checks the rules.
function checkProgramJson() {
  const area = $("program-json");
  const note = $("program-json-error");
  try {
    const doc = JSON.parse(area.value);
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new Error("The document must be a JSON object ({ … }).");
    area.removeAttribute("aria-invalid");
    note.textContent = "";
    $("program-save").disabled = false;
    $("program-preview").disabled = false;
    return doc;
  } catch (error) {
    let where = "";
    const at = /position (\d+)/.exec(error.message);
    if (at) {
      const before = area.value.slice(0, Number(at[1]));
      const line = before.split("\n").length;
      const column = before.length - before.lastIndexOf("\n");
      where = ` (line ${line}, column ${column})`;
    }
    area.setAttribute("aria-invalid", "true");
    note.textContent = error instanceof SyntaxError ? `Not valid JSON${where}: ${error.message}` : error.message;
    $("program-save").disabled = true;
    $("program-preview").disabled = true;
    return null;
  }
}

async function saveProgram() {
  const doc = checkProgramJson();
  const message = $("program-message");
  if (!doc) return;
  // The save is based on the version loaded, whatever the textarea says.
  const basedOn = state.program ? state.program.version : undefined;
  if (basedOn !== undefined) doc.version = basedOn;
  $("program-save").disabled = true;
  say(message, "Saving…");
  try {
    const saved = await api("admin/program", { method: "PUT", body: doc });
    state.program = saved;
    $("program-json").value = JSON.stringify(saved, null, 2);
    $("program-version").textContent = `Version ${programVersion(saved)} in force; you are editing it.`;
    say(message, `Saved as version ${programVersion(saved)} (it replaces version ${basedOn}).`, "success");
  } catch (error) {
    if (sessionEnded(error)) return;
    if (error.status === 409) {
      say(
        message,
        `Not saved: someone saved a newer version of the rules since you loaded version ${basedOn}. ` +
          `Copy your changes, press Reload to see theirs, and make your edit again. (${error.message})`,
        "error",
      );
    } else if (error.status === 422 && error.errors.length) {
      message.className = "message error";
      message.replaceChildren(
        el("p", { text: `Not saved: ${error.message}` }),
        el("ul", {}, ...error.errors.map((e) => el("li", { text: `${String(e.field).replace(/^body\.?/, "") || "document"}: ${e.problem}` }))),
      );
    } else {
      say(message, `Not saved: ${error.message}`, "error");
    }
  } finally {
    $("program-save").disabled = !checkProgramJson();
  }
}

// "What would change": the recent orders replayed under the draft (POST /admin/program/preview,
// which writes nothing), before the operator saves it.
async function previewProgram() {
  const doc = checkProgramJson();
  const message = $("program-message");
  const result = $("program-preview-result");
  if (!doc) return;
  const days = Number($("preview-days").value);
  if (!Number.isInteger(days) || days < 1 || days > 90) {
    say(message, "Preview: choose between 1 and 90 days.", "error");
    $("preview-days").focus();
    return;
  }
  if (state.program && state.program.version != null) doc.version = state.program.version;
  $("program-preview").disabled = true;
  say(message, "Replaying the recent orders under the draft…");
  try {
    const preview = await api(`admin/program/preview?days=${days}`, { method: "POST", body: doc });
    const number = (label, value, extra = "") =>
      el("td", { class: `num${extra}`, "data-label": label, text: value });
    const row = (label, f) =>
      el(
        "tr",
        {},
        el("th", { scope: "row", text: label }),
        number("Orders", numbers.format(f.orders)),
        number("Awarded", numbers.format(f.awarded)),
        number("Draft", numbers.format(f.wouldAward)),
        number("Difference", signed.format(f.difference), f.difference > 0 ? " plus" : f.difference < 0 ? " minus" : ""),
      );
    $("preview-rows").replaceChildren(
      ...["Bronze", "Silver", "Gold"].map((tier) => row(tier, preview.byTier[tier])),
      row("All members", preview.total),
    );
    const from = preview.start.slice(0, 10);
    const to = preview.end.slice(0, 10);
    $("preview-caption").textContent = `What the draft would have changed, orders of ${from} to ${to}`;
    $("preview-note").textContent =
      "Purchase points and first-purchase bonuses, as awarded and as the draft would award them; " +
      "milestones, referrals and other earnings are not replayed; refunds are not subtracted." +
      (preview.truncated ? " Only the newest 5,000 orders of the period were replayed." : "");
    result.hidden = false;
    const t = preview.total;
    say(
      message,
      t.orders
        ? `Preview: ${numbers.format(t.orders)} orders would have earned ${signed.format(t.difference)} points (${numbers.format(t.wouldAward)} instead of ${numbers.format(t.awarded)}). Nothing is saved yet.`
        : `Preview: no orders in the last ${days} days to replay. Nothing is saved yet.`,
      "success",
    );
  } catch (error) {
    if (sessionEnded(error)) return;
    result.hidden = true;
    if (error.status === 422 && error.errors.length) {
      message.className = "message error";
      message.replaceChildren(
        el("p", { text: `No preview: ${error.message}` }),
        el("ul", {}, ...error.errors.map((e) => el("li", { text: `${String(e.field).replace(/^(body|query)\.?/, "") || "document"}: ${e.problem}` }))),
      );
    } else {
      say(message, `No preview: ${error.message}`, "error");
    }
  } finally {
    $("program-preview").disabled = !checkProgramJson();
  }
}

// ---- audit trail ------------------------------------------------------------------------

function fillSelect(select, values, label) {
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", text: label }), ...values.map((v) => el("option", { value: v, text: v })));
  select.value = values.includes(chosen) ? chosen : "";
}

function renderAudit() {
  const actor = $("audit-actor").value;
  const kind = $("audit-kind").value;
  const items = state.audit.filter((r) => (!actor || r.actor === actor) && (!kind || r.action === kind));
  const body = $("audit-table").tBodies[0];
  body.replaceChildren(
    ...items.map((r) =>
      el(
        "tr",
        { "data-audit": r.auditId },
        el("td", { "data-label": "When" }, el("time", { dateTime: r.recordedAt, text: utcDateTime.format(new Date(r.recordedAt)) })),
        el("td", { "data-label": "Operator", text: r.actor }),
        el("td", { "data-label": "Kind", text: r.action }),
        el("td", { "data-label": "Target", class: "ref", text: r.target }),
        el("td", { "data-label": "Reason", text: r.reason || "—" }),
        el("td", { "data-label": "Details", class: "ref", text: Object.entries(r.details || {}).map(([k, v]) => `${k}: ${v}`).join(", ") || "—" }),
      ),
    ),
  );
  if (!items.length) body.replaceChildren(el("tr", {}, el("td", { colSpan: 6, text: "No changes." })));
  const filtered = items.length === state.audit.length ? "" : ` (${items.length} shown)`;
  say($("audit-message"), `${numbers.format(state.audit.length)} changes in ${$("audit-month").value}${filtered}.`);
}

async function loadAudit(event) {
  if (event) event.preventDefault();
  const month = $("audit-month").value;
  if (!/^\d{4}-\d{2}$/.test(month)) {
    say($("audit-message"), "Choose a month.", "error");
    return;
  }
  say($("audit-message"), "Loading…");
  try {
    state.audit = (await api(`admin/audit?${new URLSearchParams({ month, limit: "500" })}`)).items;
    fillSelect($("audit-actor"), [...new Set(state.audit.map((r) => r.actor))].sort(), "Every operator");
    fillSelect($("audit-kind"), [...new Set(state.audit.map((r) => r.action))].sort(), "Every kind");
    renderAudit();
  } catch (error) {
    if (!sessionEnded(error)) say($("audit-message"), `The audit trail is unavailable: ${error.message}`, "error");
  }
}

// ---- dashboard --------------------------------------------------------------------------

function figure(label, value) {
  return el("div", { class: "figure" }, el("dt", { text: label }), el("dd", { text: value }));
}

function renderDashboard(kpis) {
  const figures = [
    figure("Members", numbers.format(kpis.members)),
    figure("Points issued", numbers.format(kpis.pointsIssued)),
    figure("Points redeemed", numbers.format(kpis.pointsRedeemed)),
    figure("Points expired", numbers.format(kpis.pointsExpired)),
    figure("Points outstanding", numbers.format(kpis.pointsOutstanding)),
    figure("Redemption rate", percent.format(Number(kpis.redemptionRate))),
  ];
  if (kpis.activeMembers) {
    figures.push(
      figure("Active, 30 days", numbers.format(kpis.activeMembers.days30)),
      figure("Active, 90 days", numbers.format(kpis.activeMembers.days90)),
    );
  }
  $("figures").replaceChildren(...figures);

  const byTier = kpis.membersByTier || {};
  barChart($("chart-tiers"), {
    title: "Members by tier",
    description: TIERS.map((t) => `${t}: ${numbers.format(byTier[t] || 0)}`).join(", "),
    labelHeader: "Tier",
    valueHeader: "Members",
    data: TIERS.map((tier) => ({ label: tier, value: Number(byTier[tier] || 0), className: `tier-${tier.toLowerCase()}` })),
  });

  // Twelve "Jan 2027" labels do not fit under the bars: the month, and the year where it changes.
  const monthly = (object) =>
    Object.keys(object || {})
      .sort()
      .map((month, i) => {
        const date = new Date(`${month}-01T00:00:00Z`);
        return {
          label: monthLabel.format(date),
          tick: monthShort.format(date),
          subtick: i === 0 || month.endsWith("-01") ? month.slice(0, 4) : "",
          value: Number(object[month]),
        };
      });
  const expiry = monthly(kpis.outstandingByExpiryMonth);
  barChart($("chart-expiry"), {
    title: "Outstanding points by expiry month",
    description: expiry.length
      ? `${numbers.format(expiry.reduce((a, d) => a + d.value, 0))} points expire over ${expiry.length} months.`
      : "No outstanding points.",
    labelHeader: "Expiry month",
    valueHeader: "Points",
    data: expiry,
  });

  const daily = kpis.daily || [];
  const total = (key) => numbers.format(daily.reduce((a, d) => a + Number(d[key] || 0), 0));
  lineChart($("chart-daily"), {
    title: `Points per day, last ${daily.length} days`,
    description: `Issued ${total("issued")}, redeemed ${total("redeemed")}, expired ${total("expired")} in total.`,
    labels: daily.map((d) => d.date),
    labelFormat: (date) => dayLabel.format(new Date(`${date}T00:00:00Z`)),
    series: [
      { name: "Issued", values: daily.map((d) => Number(d.issued || 0)), className: "issued" },
      { name: "Redeemed", values: daily.map((d) => Number(d.redeemed || 0)), className: "redeemed" },
      { name: "Expired", values: daily.map((d) => Number(d.expired || 0)), className: "expired" },
    ],
  });

  const enrollments = monthly(kpis.enrollmentsByMonth);
  const enrollmentFigure = $("chart-enrollments");
  enrollmentFigure.hidden = !kpis.enrollmentsByMonth;
  if (kpis.enrollmentsByMonth) {
    barChart(enrollmentFigure, {
      title: "Enrollments by month",
      description: `${numbers.format(enrollments.reduce((a, d) => a + d.value, 0))} enrollments over ${enrollments.length} months.`,
      labelHeader: "Month",
      valueHeader: "Enrollments",
      data: enrollments,
    });
  }
}

async function loadDashboard() {
  const message = $("dashboard-message");
  message.textContent = "Loading…";
  message.className = "message";
  try {
    state.kpis = await api("admin/kpis");
    renderDashboard(state.kpis);
    message.textContent = "";
  } catch (error) {
    if (sessionEnded(error)) return;
    message.textContent = `The dashboard is unavailable: ${error.message}`;
    message.className = "message error";
  }
}

// ---- sign-in ----------------------------------------------------------------------------

function useToken(token) {
  state.token = token;
  // sessionStorage: survives a reload, gone with the tab. Never localStorage, never the URL.
  sessionStorage.setItem(TOKEN_KEY, token);
}

function signedOut(message) {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("console").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("sign-in").hidden = false;
  $("local-sign-in").hidden = !state.config.local;
  $("token-sign-in").hidden = Boolean(state.config.local);
  setStatus(message || "");
}

function showConsole() {
  $("sign-in").hidden = true;
  $("console").hidden = false;
  $("sign-out").hidden = false;
  setStatus("");
  if (!$("audit-month").value) {
    const now = new Date();
    $("audit-month").value = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
  }
  return Promise.all([loadDashboard(), loadRewards(), loadBadges(), loadProgram()]);
}

async function main() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(String(response.status));
    state.config = await response.json();
    if (!state.config.apiBaseUrl) throw new Error("apiBaseUrl missing");
  } catch (error) {
    setStatus(`This page is not configured yet (config.json: ${error.message}).`);
    return;
  }
  const base = new URL(state.config.apiBaseUrl, location.href);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  state.apiBase = base;

  $("local-sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    setStatus("Signing in…");
    try {
      const response = await fetch(state.config.tokenUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sub: $("operator-id").value.trim(), scopes: ["loyalty/admin"] }),
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(data.message || "Sign-in failed.");
      useToken(data.token);
      $("who").textContent = `Signed in as ${$("operator-id").value.trim()}`;
      await showConsole();
    } catch (error) {
      setStatus(error.message);
    }
  });
  $("token-sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    useToken($("access-token").value.trim());
    $("access-token").value = "";
    showConsole();
  });
  $("sign-out").addEventListener("click", () => signedOut("You are signed out."));
  for (const radio of document.querySelectorAll('input[name="by"]')) {
    radio.addEventListener("change", () => {
      const byEmail = radio.value === "email" && radio.checked;
      $("lookup-label").textContent = byEmail ? "Email" : "Member id";
      $("lookup-query").type = byEmail ? "email" : "text";
    });
  }
  $("lookup-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const by = new FormData(event.target).get("by");
    lookup(by, $("lookup-query").value.trim());
  });
  $("ledger-prev").addEventListener("click", () => turnPage(-1));
  $("ledger-next").addEventListener("click", () => turnPage(1));
  $("adjust-form").addEventListener("submit", reviewAdjustment);
  $("adjust-go").addEventListener("click", confirmAdjustment);
  $("adjust-cancel").addEventListener("click", () => {
    resetAdjustment();
    $("adjust-points").focus();
  });
  for (const id of ["adjust-points", "adjust-reason"]) $(id).addEventListener("input", () => resetAdjustment());
  $("void-confirm").addEventListener("submit", confirmVoid);
  $("void-cancel").addEventListener("click", () => {
    const code = state.voiding && state.voiding.coupon.code;
    resetVoid();
    const button = code && voidButton(code);
    if (button) button.focus();
  });
  $("export-member").addEventListener("click", exportMember);
  $("erase-confirm").addEventListener("input", () => {
    $("erase-member").disabled = $("erase-confirm").value !== state.memberId;
  });
  $("erase-form").addEventListener("submit", eraseMember);
  $("reward-new").addEventListener("click", () => openRewardForm(null));
  $("reward-cancel").addEventListener("click", () => {
    $("reward-form").hidden = true;
    $("reward-new").focus();
  });
  $("reward-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveReward(rewardFromForm(), null);
  });
  $("badge-new").addEventListener("click", () => openBadgeForm(null));
  $("badge-cancel").addEventListener("click", () => {
    $("badge-form").hidden = true;
    $("badge-new").focus();
  });
  $("badge-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveBadge(badgeFromForm(), null);
  });
  $("program-json").addEventListener("input", checkProgramJson);
  $("program-reload").addEventListener("click", loadProgram);
  $("program-save").addEventListener("click", saveProgram);
  $("program-preview").addEventListener("click", previewProgram);
  $("audit-form").addEventListener("submit", loadAudit);
  $("audit-actor").addEventListener("change", renderAudit);
  $("audit-kind").addEventListener("change", renderAudit);
  $("dashboard-refresh").addEventListener("click", loadDashboard);
  // The charts are drawn at their width (text at its CSS size): redraw when the width changes.
  let drawnWidth = window.innerWidth;
  let redraw = 0;
  window.addEventListener("resize", () => {
    clearTimeout(redraw);
    redraw = setTimeout(() => {
      if (window.innerWidth !== drawnWidth && state.kpis && !$("console").hidden) {
        drawnWidth = window.innerWidth;
        renderDashboard(state.kpis);
      }
    }, 150);
  });

  window.loyaltyOperator = {
    setToken(token) {
      useToken(token);
      return showConsole();
    },
  };

  let token = null;
  if (location.hash.includes("token=")) {
    token = new URLSearchParams(location.hash.slice(1)).get("token");
    history.replaceState(null, "", location.pathname + location.search);
  }
  token = token || sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    useToken(token);
    await showConsole();
  } else {
    signedOut("");
  }
}

main();
