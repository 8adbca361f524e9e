// Operator page: member lookup with the ledger, and the program dashboard from GET /admin/kpis.
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

const state = { config: null, apiBase: null, token: null, memberId: null, cursors: [null], page: 0 };

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
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

async function api(path) {
  let response;
  try {
    response = await fetch(new URL(path.replace(/^\//, ""), state.apiBase), {
      headers: { Authorization: `Bearer ${state.token}` },
    });
  } catch {
    throw new ApiError(0, "Could not reach the loyalty API.");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data && typeof data.message === "string" ? data.message : `Request failed (${response.status}).`);
  }
  return data;
}

// ---- member lookup ----------------------------------------------------------------------

function fact(label, value) {
  return el("div", {}, el("dt", { text: label }), el("dd", { text: value }));
}

function showMember(member) {
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
  );
  $("member").hidden = false;
  state.cursors = [null];
  state.page = 0;
  return loadLedger();
}

async function loadLedger() {
  const body = $("ledger").tBodies[0];
  const query = new URLSearchParams({ limit: String(LEDGER_PAGE_SIZE) });
  const cursor = state.cursors[state.page];
  if (cursor) query.set("cursor", cursor);
  $("ledger-prev").disabled = true;
  $("ledger-next").disabled = true;
  const page = await api(`members/${encodeURIComponent(state.memberId)}/activity?${query}`);
  body.replaceChildren(
    ...page.items.map((entry) =>
      el(
        "tr",
        { "data-entry": entry.entryId },
        el("td", {}, el("time", { dateTime: entry.occurredAt, text: utcDateTime.format(new Date(entry.occurredAt)) })),
        el("td", { text: entry.type }),
        el("td", { text: entry.reason }),
        el("td", { class: `num ${entry.points < 0 ? "minus" : "plus"}`, text: signed.format(entry.points) }),
        el("td", { class: "ref", text: entry.reference }),
      ),
    ),
  );
  if (!page.items.length) body.replaceChildren(el("tr", {}, el("td", { colSpan: 5, text: "No entries." })));
  state.cursors[state.page + 1] = page.nextCursor || null;
  $("ledger-prev").disabled = state.page === 0;
  $("ledger-next").disabled = !page.nextCursor;
  $("ledger-page").textContent = `Page ${state.page + 1}`;
}

async function lookup(by, query) {
  const message = $("lookup-message");
  const choices = $("lookup-choices");
  choices.hidden = true;
  message.textContent = "Searching…";
  message.className = "message";
  try {
    if (by === "email") {
      const result = await api(`admin/members?${new URLSearchParams({ email: query })}`);
      if (!result.items.length) throw new ApiError(404, `No member with the email ${query}.`);
      if (result.items.length > 1) {
        message.textContent = `${result.items.length} members share this email; choose one.`;
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
    message.textContent = "";
    $("member").focus();
  } catch (error) {
    if (error.status === 401) return signedOut("Your session has ended. Please sign in again.");
    $("member").hidden = true;
    message.textContent = error.message;
    message.className = "message error";
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
    renderDashboard(await api("admin/kpis"));
    message.textContent = "";
  } catch (error) {
    if (error.status === 401) return signedOut("Your session has ended. Please sign in again.");
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
  return loadDashboard();
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
  $("ledger-prev").addEventListener("click", () => {
    state.page = Math.max(0, state.page - 1);
    loadLedger().catch((error) => setStatus(error.message));
  });
  $("ledger-next").addEventListener("click", () => {
    state.page += 1;
    loadLedger().catch((error) => setStatus(error.message));
  });
  $("dashboard-refresh").addEventListener("click", loadDashboard);

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
