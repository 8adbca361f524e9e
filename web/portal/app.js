// Member portal: a static page that talks to the loyalty API with the member's access token.
// No framework and no build step. All API text goes into the page through textContent.

const TOKEN_KEY = "loyalty.portal.token";
const MEMBER_KEY = "loyalty.portal.member";
const ACTIVITY_PAGE_SIZE = 10;
const TIER_ORDER = ["Bronze", "Silver", "Gold"];
// The contract's default benefits, for an API whose member view does not carry
// `tierBenefits`; a deployment may override them with `tierBenefits` in config.json.
const DEFAULT_BENEFITS = {
  Bronze: ["Points on every order", "Rewards from 500 points"],
  Silver: ["Early access to sales", "Priority support"],
  Gold: [
    "15% member discount",
    "VIP events",
    "Early access to sales",
    "Personalised recommendations",
  ],
};
const REASONS = {
  purchase: "Purchase",
  "first-purchase-bonus": "First purchase bonus",
  "product-review": "Product review",
  "social-share": "Shared on social media",
  "birthday-bonus": "Birthday bonus",
  "referral-referrer": "A friend you referred",
  "referral-referee": "Welcome from a friend",
  expired: "Points expired",
  "expired-on-arrival": "Points expired",
};

const $ = (id) => document.getElementById(id);
const numbers = new Intl.NumberFormat();
const signed = new Intl.NumberFormat(undefined, { signDisplay: "exceptZero" });
// Expiry dates are UTC calendar dates: show them in UTC so nobody sees the day before.
const utcDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
const localDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

const state = {
  config: null,
  apiBase: null,
  token: null,
  memberId: null,
  member: null,
  rewards: [],
  rewardNames: new Map(),
  cursor: null,
  redeeming: false,
  program: null,
  profile: null,
  leaderboardPeriod: "month",
};

class ApiError extends Error {
  constructor(status, message, errors = []) {
    super(message);
    this.status = status;
    this.errors = errors; // a failed validation's [{field, problem}]
  }
}

function setStatus(text) {
  // Never hidden: a live region announces only changes made while it is in the page.
  $("status").textContent = text;
}

function points(n) {
  return `${numbers.format(n)} ${Math.abs(n) === 1 ? "point" : "points"}`;
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

// ---- token hand-off -------------------------------------------------------------------

function claimsOf(token) {
  // Only to learn the member id (`sub`); the API verifies the token, the page never trusts it.
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

function useToken(token, memberId) {
  state.token = token;
  state.memberId = memberId || claimsOf(token).sub || null;
  // sessionStorage: survives a reload, gone with the tab. Never localStorage, never the URL.
  sessionStorage.setItem(TOKEN_KEY, token);
  if (state.memberId) sessionStorage.setItem(MEMBER_KEY, state.memberId);
}

function forgetToken() {
  state.token = null;
  state.memberId = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(MEMBER_KEY);
}

function tokenFromFragment() {
  // The shop may open the portal as .../portal/#token=<access token>[&member=<id>]; the fragment
  // never reaches a server. It is read once and removed from the address bar and history.
  if (!location.hash.includes("token=")) return null;
  const params = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, "", location.pathname + location.search);
  const token = params.get("token");
  return token ? { token, memberId: params.get("member") } : null;
}

// ---- API --------------------------------------------------------------------------------

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
    throw new ApiError(0, "Could not reach the rewards service. Check your connection and try again.");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && typeof data.message === "string" ? data.message : `Request failed (${response.status}).`;
    throw new ApiError(response.status, message, Array.isArray(data?.errors) ? data.errors : []);
  }
  return data;
}

function memberPath(suffix = "") {
  return `members/${encodeURIComponent(state.memberId)}${suffix}`;
}

function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---- rendering --------------------------------------------------------------------------

function tierRank(tier) {
  const rank = TIER_ORDER.indexOf(tier);
  return rank < 0 ? 0 : rank;
}

function renderMember(member) {
  state.member = member;
  $("who").textContent = member.name ? `Signed in as ${member.name}` : `Member ${member.memberId}`;
  $("balance").textContent = numbers.format(member.balance);
  const pending = $("pending");
  pending.hidden = !member.pendingPoints;
  pending.textContent = member.pendingPoints
    ? `${points(member.pendingPoints)} pending: usable once the return window of your order has passed.`
    : "";

  const [next, ...later] = member.expiring || [];
  $("expiring-next").textContent = next
    ? `${points(next.points)} expire on ${utcDate.format(new Date(next.expiresAt))}.`
    : "None of your points are due to expire.";
  $("expiring-later").replaceChildren(
    ...later.slice(0, 2).map((lot) =>
      el("li", { text: `Then ${points(lot.points)} on ${utcDate.format(new Date(lot.expiresAt))}` }),
    ),
  );

  const badge = $("tier-name");
  badge.textContent = member.tier;
  badge.dataset.tier = member.tier;
  const progress = $("tier-progress");
  if (member.nextTier) {
    // Progress from 0: the thresholds are per-deployment rules the member view does not carry,
    // but tierPoints + pointsNeeded is exactly the next tier's threshold.
    const goal = member.tierPoints + member.nextTier.pointsNeeded;
    progress.max = goal;
    progress.value = member.tierPoints;
    $("tier-progress-label").textContent =
      `${numbers.format(member.tierPoints)} of ${numbers.format(goal)} tier points towards ${member.nextTier.name}`;
    $("tier-next").textContent =
      `Earn ${points(member.nextTier.pointsNeeded)} more to reach ${member.nextTier.name}.`;
    $("tier-progress-block").hidden = false;
  } else {
    $("tier-progress-block").hidden = true;
    $("tier-next").textContent = `You are in our top tier, with ${numbers.format(member.tierPoints)} tier points.`;
  }
  // The member view carries its tier's benefits (the program's rules in force); a tier with
  // none listed (Bronze by default) shows what every member gets.
  const benefits = Array.isArray(member.tierBenefits) && member.tierBenefits.length
    ? member.tierBenefits
    : (state.config.tierBenefits || DEFAULT_BENEFITS)[member.tier] || [];
  $("benefits").replaceChildren(...benefits.map((text) => el("li", { text: String(text) })));
  renderRewards();
  renderTierTable();
  renderProfileSummary();
}

function refusal(reward, member) {
  if (reward.stock === 0) return "Out of stock";
  if (tierRank(member.tier) < tierRank(reward.minTier)) return `Unlocks at ${reward.minTier}`;
  if (member.balance < reward.cost) return `You need ${points(reward.cost - member.balance)} more`;
  return null;
}

function renderRewards() {
  const list = $("rewards");
  if (!state.member) return;
  list.setAttribute("aria-busy", "false");
  if (!state.rewards.length) {
    list.replaceChildren(el("li", { class: "muted", text: "No rewards are available right now." }));
    return;
  }
  list.replaceChildren(
    ...state.rewards.map((reward) => {
      const reason = refusal(reward, state.member);
      const reasonId = `reward-reason-${reward.rewardId}`;
      const button = el("button", {
        type: "button",
        class: "primary",
        text: "Redeem",
        disabled: Boolean(reason) || state.redeeming,
        "data-reward": reward.rewardId,
        "aria-label": `Redeem ${reward.name} for ${points(reward.cost)}`,
      });
      if (reason) button.setAttribute("aria-describedby", reasonId);
      button.addEventListener("click", () => redeem(reward));
      return el(
        "li",
        { class: "reward", "data-reward": reward.rewardId },
        el("h3", { text: reward.name }),
        el("p", { class: "cost", text: points(reward.cost) }),
        reward.minTier && reward.minTier !== TIER_ORDER[0]
          ? el("p", { class: "muted", text: `${reward.minTier} tier and above` })
          : null,
        el("div", { class: "reward-action" }, button, reason ? el("span", { id: reasonId, class: "reason", text: reason }) : null),
      );
    }),
  );
}

function activityLabel(entry) {
  if (entry.reason.startsWith("reward:")) {
    const id = entry.reason.slice("reward:".length);
    return `Redeemed: ${state.rewardNames.get(id) || id}`;
  }
  const milestone = /^(order|tenure)-milestone-(\d+)$/.exec(entry.reason);
  if (milestone) {
    return milestone[1] === "order"
      ? `Milestone: order number ${milestone[2]}`
      : `Milestone: ${milestone[2]} months as a member`;
  }
  const label = REASONS[entry.reason];
  if (entry.type === "reverse") return `Refund: ${(label || entry.reason).toLowerCase()} points returned`;
  if (label) return label;
  if (entry.type === "adjust") return `Adjustment: ${entry.reason}`;
  return entry.reason.replace(/[-_]/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function activityItem(entry) {
  const when = new Date(entry.occurredAt);
  return el(
    "li",
    { class: "entry", "data-entry": entry.entryId, tabIndex: -1 },
    el(
      "div",
      { class: "entry-main" },
      el("span", { class: "entry-label", text: activityLabel(entry) }),
      el("time", { dateTime: entry.occurredAt, text: localDate.format(when) }),
    ),
    el("span", {
      class: `entry-points ${entry.points < 0 ? "minus" : "plus"}`,
      text: signed.format(entry.points),
    }),
  );
}

async function loadActivity({ more = false } = {}) {
  const list = $("activity");
  const button = $("activity-more");
  const query = new URLSearchParams({ limit: String(ACTIVITY_PAGE_SIZE) });
  if (more && state.cursor) query.set("cursor", state.cursor);
  button.disabled = true;
  list.setAttribute("aria-busy", "true");
  try {
    const page = await api(`${memberPath("/activity")}?${query}`);
    const items = page.items.map(activityItem);
    if (more) list.append(...items);
    else list.replaceChildren(...items);
    if (!more && !items.length) list.replaceChildren(el("li", { class: "muted", text: "No activity yet." }));
    state.cursor = page.nextCursor || null;
    button.hidden = !state.cursor;
    $("activity-end").hidden = Boolean(state.cursor) || !list.children.length || !more;
    // Keyboard and screen reader users land on the first entry that just appeared.
    if (more && items.length) items[0].focus();
  } finally {
    button.disabled = false;
    list.setAttribute("aria-busy", "false");
  }
}

function renderReferral(referrals) {
  const code = referrals.referralCode || state.member?.referralCode;
  const input = $("referral-link");
  let text = code || "";
  if (code && state.config.referralBaseUrl) {
    const url = new URL(state.config.referralBaseUrl, location.href);
    url.searchParams.set("ref", code);
    text = url.href;
    $("referral-label").textContent = "Your referral link";
  } else {
    $("referral-label").textContent = "Your referral code";
  }
  input.value = text;
  $("copy-referral").disabled = !text;
  $("referral-stats").textContent =
    `${numbers.format(referrals.completed)} joined, ${numbers.format(referrals.pending)} pending, ` +
    `${points(referrals.pointsEarned)} earned from referrals.`;
}

// ---- badges and challenges ------------------------------------------------------------

function earnedBadge(badge) {
  const when = utcDate.format(new Date(badge.earnedAt));
  const worth = badge.points ? `, ${points(badge.points)}` : "";
  return el(
    "li",
    { class: "badge", "data-testid": "badge-earned" },
    el("p", { class: "badge-name", text: badge.name }),
    badge.description ? el("p", { class: "badge-detail", text: badge.description }) : null,
    el("p", { class: "badge-detail", text: `${badge.challenge ? "Challenge completed" : "Earned"} ${when}${worth}` }),
  );
}

function openBadge(badge) {
  const id = `badge-progress-${badge.badgeId}`;
  const label = `${numbers.format(badge.progress)} of ${numbers.format(badge.target)}`;
  const dates = badge.challenge
    ? ` Between ${utcDate.format(new Date(badge.startsOn))} and ${utcDate.format(new Date(badge.endsOn))}.`
    : "";
  const worth = badge.points ? ` Worth ${points(badge.points)}.` : "";
  return el(
    "li",
    { class: "badge", "data-testid": "badge-open" },
    el("p", { class: "badge-name", text: badge.name }),
    badge.description ? el("p", { class: "badge-detail", text: badge.description }) : null,
    el("label", { class: "badge-detail", htmlFor: id, text: `${label} so far.${dates}${worth}` }),
    el("progress", { id, max: badge.target, value: badge.progress }),
  );
}

async function loadBadges() {
  const earned = $("badges-earned");
  const open = $("badges-progress");
  const message = $("badges-message");
  try {
    const badges = await api(memberPath("/badges"));
    message.hidden = true;
    earned.replaceChildren(...badges.earned.map(earnedBadge));
    if (!badges.earned.length) earned.replaceChildren(el("li", { class: "muted", text: "No badges yet." }));
    open.replaceChildren(...badges.progress.map(openBadge));
    if (!badges.progress.length) open.replaceChildren(el("li", { class: "muted", text: "Nothing open right now." }));
  } catch (error) {
    if (error.status === 401) throw error;
    earned.replaceChildren();
    open.replaceChildren();
    message.textContent = `Your badges could not be loaded. ${error.message}`;
    message.hidden = false;
  } finally {
    earned.setAttribute("aria-busy", "false");
    open.setAttribute("aria-busy", "false");
  }
}

function selectContents(node) {
  if (node instanceof HTMLInputElement) {
    node.focus();
    node.select();
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

async function copyText(text, source) {
  // True only when the text is known to be on the clipboard.
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API (insecure context or denied): select the text and try the old way;
    // whatever happens, the text stays selected for a manual copy.
    if (source) selectContents(source);
    try {
      return Boolean(source && document.execCommand && document.execCommand("copy"));
    } catch {
      return false;
    }
  }
}

// ---- the program's rules: ways to earn, tiers, referral reward ---------------------------

const MONTHS = new Intl.DateTimeFormat(undefined, { month: "long", day: "numeric", timeZone: "UTC" });
const ANCHORS = { "black-friday": "Black Friday", "cyber-monday": "Cyber Monday" };

function dayOf(anchor) {
  if (ANCHORS[anchor]) return ANCHORS[anchor];
  const [month, day] = anchor.split("-").map(Number);
  // A leap year, so that 02-29 is a day; only the month and day are shown.
  return MONTHS.format(new Date(Date.UTC(2024, month - 1, day)));
}

function times(multiplier) {
  const n = Number(multiplier);
  const words = { 2: "Double", 3: "Triple" };
  return words[n] ? `${words[n]} points` : `${numbers.format(n)}× points`;
}

function titleCase(name) {
  return name.replace(/[-_]+/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function ordinal(n) {
  const rules = new Intl.PluralRules("en-US", { type: "ordinal" });
  const suffix = { one: "st", two: "nd", few: "rd", other: "th" }[rules.select(n)];
  return `${numbers.format(n)}${suffix}`;
}

function months(n) {
  return `${numbers.format(n)} ${n === 1 ? "month" : "months"}`;
}

function waysToEarn(rules) {
  // [what, how much, details?] for every rule that pays points; none of the numbers is the
  // page's own: they all come from GET /program.
  const ways = [];
  if (rules.pointsPerDollar > 0) {
    const categories = Object.entries(rules.categoryMultipliers || {})
      .filter(([, m]) => Number(m) !== 1)
      .map(([name, m]) => `${times(m).toLowerCase()} on ${name}`);
    ways.push([
      "Shop with us",
      `${points(rules.pointsPerDollar)} per $1`,
      categories.length ? `On every order; ${categories.join(", ")}.` : "On every order.",
    ]);
  }
  if (rules.firstPurchaseBonus > 0) {
    ways.push(["Your first order", `${points(rules.firstPurchaseBonus)} bonus`, "Once, when your first order completes."]);
  }
  if (rules.reviewPoints > 0) {
    ways.push(["Review a product", points(rules.reviewPoints), "For each product you review."]);
  }
  if (rules.socialSharePoints > 0) {
    const cap = rules.socialShareMonthlyCap;
    ways.push([
      "Share on social media",
      `${points(rules.socialSharePoints)} per share`,
      cap > 0 ? `Up to ${numbers.format(cap)} ${cap === 1 ? "share" : "shares"} a month.` : null,
    ]);
  }
  const referral = rules.referral || {};
  if (referral.referrerPoints > 0 || referral.refereePoints > 0) {
    ways.push([
      "Refer a friend",
      `${points(referral.referrerPoints)} for you`,
      `And ${points(referral.refereePoints)} for your friend, when their first order completes.`,
    ]);
  }
  if (rules.birthdayBonus > 0) {
    ways.push(["Your birthday", points(rules.birthdayBonus), "Once a year, in your birthday month: add your birthday to your profile."]);
  }
  for (const milestone of rules.orderMilestones || []) {
    if (milestone.points > 0) {
      ways.push(["Order milestone", points(milestone.points), `On your ${ordinal(milestone.orderCount)} order.`]);
    }
  }
  for (const milestone of rules.tenureMilestones || []) {
    if (milestone.points > 0) {
      ways.push(["Membership milestone", points(milestone.points), `After ${months(milestone.months)} as a member.`]);
    }
  }
  for (const season of rules.seasonalMultipliers || []) {
    if (Number(season.multiplier) !== 1) {
      ways.push([
        `${titleCase(season.name)}`,
        times(season.multiplier),
        `On orders placed from ${dayOf(season.start)} to ${dayOf(season.end)}.`,
      ]);
    }
  }
  return ways;
}

function renderProgram() {
  const rules = state.program;
  const list = $("ways-to-earn");
  list.setAttribute("aria-busy", "false");
  if (!rules) {
    const missing = "The program's details are not available right now.";
    list.replaceChildren(el("li", { class: "muted", text: missing }));
    $("earn-notes").textContent = "";
    $("tier-rows").replaceChildren();
    $("tier-table").hidden = true;
    $("referral-reward").textContent = "Your friend gets bonus points on their first order, and so do you.";
    return;
  }
  list.replaceChildren(
    ...waysToEarn(rules).map(([what, amount, details]) =>
      el(
        "li",
        { class: "way" },
        el("span", { class: "way-what", text: what }),
        el("span", { class: "way-amount", text: amount }),
        details ? el("span", { class: "way-details muted", text: details }) : null,
      ),
    ),
  );
  const notes = [`Points last ${months(rules.expiryMonths)} from the day you earn them.`];
  if (rules.pendingHoldDays > 0) {
    const days = rules.pendingHoldDays;
    notes.push(`Points for an order can be spent ${numbers.format(days)} ${days === 1 ? "day" : "days"} after it, once its return window has passed.`);
  }
  $("earn-notes").textContent = notes.join(" ");
  renderTierTable();
  const referral = rules.referral || {};
  const cap = referral.referrerMonthlyCap;
  $("referral-reward").textContent =
    `When a friend you invite completes their first order, they get ${points(referral.refereePoints)} ` +
    `and you get ${points(referral.referrerPoints)}.` +
    (cap > 0 ? ` Up to ${numbers.format(cap)} ${cap === 1 ? "friend" : "friends"} a month earn you points.` : "");
}

function renderTierTable() {
  const rules = state.program;
  if (!rules || !state.member) return;
  const tiers = rules.tiers || [];
  $("tier-table").hidden = !tiers.length;
  $("tier-rows").replaceChildren(
    ...tiers.map((tier, i) => {
      const next = tiers[i + 1];
      const range = next
        ? `${numbers.format(tier.minPoints)} to ${numbers.format(next.minPoints - 1)}`
        : `${numbers.format(tier.minPoints)} and up`;
      const mine = tier.name === state.member.tier;
      const benefits = tier.benefits && tier.benefits.length
        ? el("ul", { class: "plain" }, ...tier.benefits.map((text) => el("li", { text: String(text) })))
        : el("span", { class: "muted", text: "Points on every order and our rewards" });
      const row = el(
        "tr",
        { class: mine ? "current" : "", "data-tier": tier.name },
        el("th", { scope: "row" }, el("span", { text: tier.name }), mine ? el("span", { class: "you-are-here", text: "Your tier" }) : null),
        el("td", { text: range }),
        el("td", {}, benefits),
      );
      if (mine) row.setAttribute("aria-current", "true");
      return row;
    }),
  );
}

// ---- profile ----------------------------------------------------------------------------

const PROFILE_FIELDS = {
  name: "profile-name",
  phone: "profile-phone",
  birthday: "profile-birthday",
  marketingConsent: "profile-consent",
  "leaderboard.optIn": "profile-leaderboard",
  "leaderboard.displayName": "profile-display-name",
};

// The member's leaderboard choice (an older API has none: not listed).
function leaderboardChoice(member) {
  const choice = member && member.leaderboard;
  return { optIn: Boolean(choice && choice.optIn), displayName: (choice && choice.displayName) || "" };
}

function renderProfileSummary() {
  const member = state.member;
  if (!member) return;
  const choice = leaderboardChoice(member);
  $("profile-summary").textContent =
    `${member.name ? `Name: ${member.name}.` : "No name given."} ` +
    (member.marketingConsent ? "You get our offers and news." : "You get no offers or news from us.") +
    (choice.optIn ? ` On the leaderboard as “${choice.displayName}”.` : " Not on the leaderboard.");
  $("leaderboard-you").textContent = choice.optIn
    ? `You appear as “${choice.displayName}” (the board is refreshed every minute).`
    : "You are not on the leaderboard. To appear under a name of your choice, edit your profile.";
}

function clearProfileErrors() {
  $("profile-error").textContent = "";
  for (const id of Object.values(PROFILE_FIELDS)) {
    $(id).removeAttribute("aria-invalid");
    $(`${id}-error`).textContent = "";
  }
}

function fieldProblem(field, problem) {
  // The API's words, minus pydantic's prefix; a pattern is no help to a member.
  const text = String(problem).replace(/^Value error, /, "");
  if (field === "phone" && /pattern/.test(text)) return "Enter a phone number of 5 to 32 digits, spaces and + ( ) - .";
  if (field === "name" && /at least 1 character|pattern/.test(text)) return "Enter your name.";
  if (field === "birthday" && /past date/.test(text)) return "Enter a date in the past, after 1900.";
  return text.replace(/^./, (c) => c.toUpperCase());
}

function showProfileErrors(error) {
  clearProfileErrors();
  let first = null;
  const problems = [...(error.errors || [])];
  // The display name's rules beyond its schema (not an email address, needed to opt in) come
  // as a message of their own.
  if (!problems.length && /display name/i.test(error.message)) {
    problems.push({ field: "leaderboard.displayName", problem: error.message });
  }
  for (const item of problems) {
    const field = String(item.field || "").replace(/^body\./, "");
    const id = PROFILE_FIELDS[field];
    if (!id) continue;
    $(id).setAttribute("aria-invalid", "true");
    $(`${id}-error`).textContent = fieldProblem(field, item.problem);
    first = first || $(id);
  }
  $("profile-error").textContent = first
    ? "Your profile was not saved: please correct the fields marked below."
    : `Your profile was not saved. ${error.message}`;
  (first || $("profile-name")).focus();
}

async function openProfile() {
  const form = $("profile-form");
  clearProfileErrors();
  $("profile-saved").textContent = "";
  $("profile-edit").setAttribute("aria-expanded", "true");
  $("profile-edit").hidden = true;
  form.hidden = false;
  $("profile-name").value = state.member.name || "";
  $("profile-consent").checked = Boolean(state.member.marketingConsent);
  const choice = leaderboardChoice(state.member);
  $("profile-leaderboard").checked = choice.optIn;
  $("profile-display-name").value = choice.displayName;
  $("profile-phone").value = "";
  $("profile-birthday").value = "";
  $("profile-save").disabled = true;
  // Phone and birthday are not in the member view: the member's own data export has them.
  try {
    const data = await api(memberPath("/export"));
    state.profile = data.profile;
    $("profile-phone").value = data.profile.phone || "";
    $("profile-birthday").value = data.profile.birthday || "";
  } catch (error) {
    state.profile = null;
    if (error.status === 401) return signedOut("Your session has ended. Please sign in again.");
    $("profile-error").textContent = `Your phone number and birthday could not be loaded. ${error.message}`;
  } finally {
    $("profile-save").disabled = false;
  }
  $("profile-name").focus();
}

function closeProfile() {
  $("profile-form").hidden = true;
  $("profile-edit").hidden = false;
  $("profile-edit").setAttribute("aria-expanded", "false");
  $("profile-edit").focus();
}

function profileChanges() {
  const changes = {};
  const name = $("profile-name").value.trim();
  if (name !== (state.member.name || "")) changes.name = name;
  const consent = $("profile-consent").checked;
  if (consent !== Boolean(state.member.marketingConsent)) changes.marketingConsent = consent;
  const choice = leaderboardChoice(state.member);
  const optIn = $("profile-leaderboard").checked;
  const displayName = $("profile-display-name").value.trim();
  if (optIn !== choice.optIn || displayName !== choice.displayName) {
    // An emptied name is removed (the API refuses that while opted in, and says why).
    changes.leaderboard = { optIn, displayName: displayName || null };
  }
  // Without the export (it failed), an empty field means "not loaded", not "remove".
  const known = state.profile || {};
  for (const field of ["phone", "birthday"]) {
    const value = $(PROFILE_FIELDS[field]).value.trim();
    if (!state.profile && !value) continue;
    if (value !== (known[field] || "")) changes[field] = value || null;
  }
  return changes;
}

async function saveProfile() {
  clearProfileErrors();
  const changes = profileChanges();
  if (changes.leaderboard && changes.leaderboard.optIn && !changes.leaderboard.displayName) {
    showProfileErrors(
      new ApiError(422, "", [{ field: "leaderboard.displayName", problem: "Choose a display name to appear on the leaderboard." }]),
    );
    return;
  }
  if (!Object.keys(changes).length) {
    closeProfile();
    $("profile-saved").textContent = "Nothing to save: your profile is unchanged.";
    return;
  }
  const save = $("profile-save");
  save.disabled = true;
  try {
    const member = await api(memberPath(), { method: "PATCH", body: changes });
    renderMember(member);
    closeProfile();
    $("profile-saved").textContent = "Your profile is saved.";
    if (changes.leaderboard) loadLeaderboard().catch(() => {});
  } catch (error) {
    if (error.status === 401) return signedOut("Your session has ended. Please sign in again.");
    showProfileErrors(error);
  } finally {
    save.disabled = false;
  }
}

// ---- redemption -------------------------------------------------------------------------

// A "Copy code" button and the live text that says whether it worked: "Copied." only when the
// code reached the clipboard; otherwise the code is left selected, with how to copy it by hand.
function copyCodeControls(text, source, label) {
  const copied = el("span", { class: "muted", "aria-live": "polite" });
  const copy = el("button", { type: "button", text: "Copy code" });
  if (label) copy.setAttribute("aria-label", label);
  copy.addEventListener("click", async () => {
    copied.textContent = "";
    copied.textContent = (await copyText(text, source))
      ? "Copied."
      : "Copying did not work here. Select the code and copy it (Ctrl+C, or Command+C on a Mac).";
  });
  return [copy, copied];
}

function showCoupon(redemption, reward) {
  const box = $("redeem-result");
  const code = el("code", { class: "coupon-code", id: "coupon-code", text: redemption.couponCode });
  const [copy, copied] = copyCodeControls(redemption.couponCode, code);
  box.className = "result success";
  box.replaceChildren(
    el("h3", { text: `${reward.name}: your coupon code` }),
    el("p", { class: "coupon-row" }, code, copy, copied),
    el("p", {
      text: `${points(redemption.pointsSpent)} spent. Your balance is now ${points(redemption.balance)}. Enter the code at checkout.`,
    }),
  );
  box.focus();
}

// ---- coupons ----------------------------------------------------------------------------

function couponGives(coupon) {
  if (coupon.kind === "discount" && coupon.discountPercent != null) {
    return `${numbers.format(coupon.discountPercent)}% off`;
  }
  if (coupon.kind === "free_shipping") return "Free shipping";
  if (coupon.kind === "product") return "A free product";
  return null;
}

function couponStatus(coupon) {
  // The expiry is a UTC instant like the points' expiry dates; used and voided are moments.
  const until = (iso) => utcDate.format(new Date(iso));
  const on = (iso) => localDate.format(new Date(iso));
  switch (coupon.status) {
    case "active":
      return coupon.expiresAt ? `Active until ${until(coupon.expiresAt)}` : "Active";
    case "used":
      return coupon.usedAt ? `Used on ${on(coupon.usedAt)}` : "Used";
    case "voided":
      return coupon.voidedAt ? `Voided on ${on(coupon.voidedAt)}` : "Voided";
    case "expired":
      return coupon.expiresAt ? `Expired on ${until(coupon.expiresAt)}` : "Expired";
    default:
      return String(coupon.status);
  }
}

function couponItem(coupon) {
  const name = coupon.rewardName || coupon.rewardId;
  const gives = couponGives(coupon);
  const code = el("code", { class: "coupon-code", text: coupon.code });
  const row = el("p", { class: "coupon-row" }, code);
  // Only an active coupon can still be used: only its code is worth copying.
  if (coupon.status === "active") row.append(...copyCodeControls(coupon.code, code, `Copy code ${coupon.code}`));
  return el(
    "li",
    { class: "coupon", "data-code": coupon.code, "data-status": coupon.status },
    el("h3", { text: name }),
    gives && gives.toLowerCase() !== String(name).toLowerCase() ? el("p", { class: "coupon-gives", text: gives }) : null,
    el("p", { class: "coupon-status", text: couponStatus(coupon) }),
    row,
  );
}

async function loadCoupons() {
  const list = $("coupons");
  const message = $("coupons-message");
  list.setAttribute("aria-busy", "true");
  try {
    const { items } = await api(memberPath("/coupons"));
    message.hidden = true;
    list.replaceChildren(...items.map(couponItem));
    if (!items.length) {
      list.replaceChildren(
        el("li", { class: "muted", text: "You have no coupons yet. Redeem a reward and its coupon appears here." }),
      );
    }
  } catch (error) {
    if (error.status === 401) throw error;
    list.replaceChildren();
    message.textContent = `Your coupons could not be loaded. ${error.message}`;
    message.hidden = false;
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

function showRedeemError(message) {
  const box = $("redeem-result");
  box.className = "result error";
  box.replaceChildren(el("p", { role: "alert", text: message }));
  box.focus();
}

async function redeem(reward) {
  if (state.redeeming) return;
  state.redeeming = true;
  renderRewards();
  setStatus(`Redeeming ${reward.name}…`);
  let redeemed = false;
  try {
    // A fresh key per click: a retried request (same key) can never spend twice.
    const redemption = await api(memberPath("/redemptions"), {
      method: "POST",
      body: { rewardId: reward.rewardId },
      headers: { "Idempotency-Key": newIdempotencyKey() },
    });
    redeemed = true;
    state.redeeming = false;
    renderMember({ ...state.member, balance: redemption.balance });
    showCoupon(redemption, reward);
    setStatus("");
  } catch (error) {
    state.redeeming = false;
    if (error.status === 401) return signedOut("Your session has ended. Please sign in again.");
    setStatus("");
    renderRewards();
    showRedeemError(error.message);
  }
  // The expiring points and the ledger changed too (or, after a refusal, the page's balance
  // or tier was stale): refresh them quietly.
  await Promise.all([
    api(memberPath()).then(renderMember),
    redeemed ? loadActivity() : null,
    redeemed ? loadCoupons() : null,
  ]).catch(() => {});
}

// ---- flow -------------------------------------------------------------------------------

function signedOut(message) {
  forgetToken();
  $("portal").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  if (state.config.local) {
    $("sign-in").hidden = false;
  } else {
    $("signed-out").hidden = false;
    if (state.config.signInUrl) {
      $("sign-in-link").href = state.config.signInUrl;
      $("sign-in-link").hidden = false;
    }
  }
  setStatus(message || "");
}

// ---- leaderboard --------------------------------------------------------------------------

const monthName = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
const clockTime = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

async function loadLeaderboard(period = state.leaderboardPeriod) {
  state.leaderboardPeriod = period;
  $("leaderboard-month").setAttribute("aria-pressed", String(period === "month"));
  $("leaderboard-all").setAttribute("aria-pressed", String(period === "all"));
  const list = $("leaderboard");
  const message = $("leaderboard-message");
  list.setAttribute("aria-busy", "true");
  try {
    const board = await api(`leaderboard?period=${period}&limit=10`);
    if (period !== state.leaderboardPeriod) return; // the other period was chosen meanwhile
    $("leaderboard-period").textContent =
      (period === "month" && board.periodStart
        ? `Points earned in ${monthName.format(new Date(board.periodStart))}`
        : "Points earned since joining") +
      (board.refreshedAt ? ` · updated ${clockTime.format(new Date(board.refreshedAt))}` : "");
    list.replaceChildren(
      ...board.items.map((row) =>
        el(
          "li",
          {},
          el("span", { className: "rank", text: `#${row.rank}` }),
          el("span", { className: "name", text: row.displayName }),
          el("span", { className: "score", text: points(row.points) }),
        ),
      ),
    );
    message.hidden = board.items.length > 0;
    message.textContent = board.items.length ? "" : "No one is on this board yet.";
  } catch (error) {
    if (error.status === 401) return signedOut("Your session has ended. Please sign in again.");
    list.replaceChildren();
    message.hidden = false;
    message.textContent = `The leaderboard could not be loaded. ${error.message}`;
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

async function showPortal() {
  $("sign-in").hidden = true;
  $("signed-out").hidden = true;
  setStatus("Loading your rewards…");
  try {
    if (!state.memberId) throw new ApiError(401, "The access token does not name a member.");
    const [member, rewards, referrals, program] = await Promise.all([
      api(memberPath()),
      api("rewards"),
      api(memberPath("/referrals")),
      // The rules are only shown: the portal works on without them (an older API).
      api("program").catch(() => null),
    ]);
    state.program = program;
    state.rewards = [...rewards.items].sort((a, b) => a.cost - b.cost);
    state.rewardNames = new Map(state.rewards.map((r) => [r.rewardId, r.name]));
    $("redeem-result").replaceChildren();
    $("redeem-result").className = "result";
    renderMember(member);
    renderProgram();
    renderReferral(referrals);
    $("profile-form").hidden = true;
    $("profile-edit").hidden = false;
    $("profile-edit").setAttribute("aria-expanded", "false");
    $("profile-saved").textContent = "";
    $("portal").hidden = false;
    $("sign-out").hidden = false;
    await Promise.all([loadActivity(), loadCoupons(), loadBadges(), loadLeaderboard()]);
    setStatus("");
    return true;
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      signedOut(`Please sign in again. (${error.message})`);
    } else {
      setStatus(error.message);
    }
    return false;
  }
}

async function localSignIn(memberId) {
  const response = await fetch(state.config.tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sub: memberId, scopes: [] }),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.message || "Sign-in failed.");
  useToken(data.token, data.claims?.sub || memberId);
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

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("member-id");
    setStatus("Signing in…");
    try {
      await localSignIn(input.value.trim());
      if (await showPortal()) {
        // The form the focus was on is gone: start the member at the top of their rewards,
        // and say that the sign-in worked. Only if the focus is still where the form left it:
        // the portal shows before its last panels have loaded, and a member who redeemed (or
        // moved on) meanwhile keeps the focus where it is now.
        const focused = document.activeElement;
        if (!focused || focused === document.body || $("sign-in").contains(focused)) {
          $("balance-title").focus();
        }
        const who = state.member.name || state.memberId;
        setStatus(`Signed in as ${who}. Your rewards are below.`);
      }
    } catch (error) {
      setStatus(error.message);
    }
  });
  $("sign-out").addEventListener("click", () => signedOut("You are signed out."));
  $("profile-edit").addEventListener("click", () => openProfile());
  $("leaderboard-month").addEventListener("click", () => loadLeaderboard("month"));
  $("leaderboard-all").addEventListener("click", () => loadLeaderboard("all"));
  $("profile-cancel").addEventListener("click", () => closeProfile());
  $("profile-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveProfile();
  });
  $("activity-more").addEventListener("click", () =>
    loadActivity({ more: true }).catch((error) => setStatus(error.message)),
  );
  $("copy-referral").addEventListener("click", async () => {
    const input = $("referral-link");
    $("referral-copied").textContent = "";
    const what = $("referral-label").textContent.endsWith("link") ? "link" : "code";
    $("referral-copied").textContent = (await copyText(input.value, input))
      ? "Copied."
      : `Copying did not work here. Select the ${what} and copy it (Ctrl+C, or Command+C on a Mac).`;
  });

  // The shop hands the member's token over with a fragment, or by calling this hook.
  window.loyaltyPortal = {
    setToken(token, memberId) {
      useToken(token, memberId);
      return showPortal();
    },
  };

  const handed = tokenFromFragment();
  if (handed) useToken(handed.token, handed.memberId);
  else if (sessionStorage.getItem(TOKEN_KEY)) {
    state.token = sessionStorage.getItem(TOKEN_KEY);
    state.memberId = sessionStorage.getItem(MEMBER_KEY) || claimsOf(state.token).sub || null;
  }
  if (state.token) await showPortal();
  else signedOut("");
}

main();
