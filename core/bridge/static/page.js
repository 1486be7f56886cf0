// The cashier page of `paycode serve`: amount entry, scan, wallet, the shopper's password with the time left,
// paid / declined / closed with a receipt, cancel and refund. Built on the bridge's own client (/v1/client.js);
// texts from the message catalogue (/v1/messages) in the browser's language (?lang= forces one).

import { Paycode } from "/v1/client.js";

const $ = (id) => document.getElementById(id);
const LANGS = ["zh-Hans", "zh-Hant", "en"];
let texts = {};
let lang = "en";
let pc = null;
let current = null;
let countdownTimer = null;
/** every state the status line showed, in order (tests read it) */
window.paycodeStates = [];

function languageOf(tag) {
  const parts = String(tag).toLowerCase().replace(/_/g, "-").split("-");
  if (parts[0] === "en") return "en";
  if (parts[0] !== "zh") return null;
  return parts.slice(1).some((p) => ["hant", "tw", "hk", "mo"].includes(p)) ? "zh-Hant" : "zh-Hans";
}

function chooseLanguage() {
  const forced = new URLSearchParams(location.search).get("lang");
  if (forced && LANGS.includes(forced)) return forced;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const found = languageOf(tag);
    if (found) return found;
  }
  return "en";
}

function t(key, values = {}) {
  const text = (texts[lang] && texts[lang][key]) || (texts.en && texts.en[key]) || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

function translatePage() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-msg]")) {
    if (el.id !== "status") el.textContent = t(el.dataset.msg);
  }
}

function showStatus(state, text) {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
  const states = window.paycodeStates;
  if (states[states.length - 1] !== state) states.push(state);
}

function money(amount, currency) {
  return `${amount} ${currency}`;
}

function render(p) {
  const final = p.final;
  $("cancel").hidden = final;
  $("next").hidden = !final;
  $("start").disabled = !final;
  $("wallet").textContent = p.wallet_label || p.wallet ? t("scanned", { wallet: p.wallet_label || p.wallet }) : "";
  $("error").textContent = "";
  stopCountdown();
  switch (p.state) {
    case "waiting_for_scan":
      showStatus("waiting_for_scan", t("scan"));
      break;
    case "processing":
      if (p.cancel_requested) showStatus("cancelling", t("cancelling"));
      else if (p.status === "PROCESSING") startCountdown(p);
      else showStatus("sending", t("sending"));
      break;
    case "paid":
      if (Number(p.refunded) > 0) showStatus("refunded", t("refunded", { amount: money(p.refunded, p.currency) }));
      else showStatus("paid", t("paid", { amount: money(p.amount, p.currency) }));
      break;
    case "declined":
      showStatus("declined", t("declined"));
      break;
    case "closed":
      showStatus("closed", t("closed"));
      break;
    case "cancelled":
      showStatus("cancelled", t("cancelled"));
      break;
    case "unresolved":
      showStatus("unresolved", t("unresolved"));
      break;
    default:
      showStatus("failed", t("failed", { error: (p.error && p.error.message) || p.state }));
  }
  const paid = p.state === "paid";
  $("refund-box").hidden = !paid || Number(p.refunded) >= Number(p.amount);
  if (paid && !$("refund-amount").value) $("refund-amount").value = p.amount;
  $("receipt").hidden = !final || p.state === "cancelled" || p.state === "failed";
  $("r-order").textContent = p.reference;
  $("r-amount").textContent = money(p.amount, p.currency);
  $("r-wallet").textContent = p.wallet_label || p.wallet || "";
  $("r-code").textContent = p.code || "";
  $("r-transaction").textContent = p.transaction_id || "";
  $("r-refunded").textContent = money(p.refunded, p.currency);
}

function startCountdown(p) {
  const deadline = p.deadline_at ? Date.parse(p.deadline_at) : null;
  const tick = () => {
    const left = deadline ? Math.max(0, Math.round((deadline - Date.now()) / 1000)) : "…";
    showStatus("password", t("password", { seconds: left }));
    $("countdown").textContent = deadline ? `${left} s` : "";
  };
  tick();
  countdownTimer = setInterval(tick, 500);
}

function stopCountdown() {
  if (countdownTimer) clearInterval(countdownTimer);
  countdownTimer = null;
  $("countdown").textContent = "";
}

function showError(err) {
  $("error").textContent = err && err.message ? err.message : String(err);
}

async function start(event) {
  event.preventDefault();
  const amount = $("amount").value.trim();
  if (!/^[0-9]+(\.[0-9]+)?$/.test(amount)) {
    $("error").textContent = t("bad_amount");
    return;
  }
  $("start").disabled = true;
  $("receipt").hidden = true;
  $("refund-amount").value = "";
  try {
    const lane = $("lane").value || undefined;
    follow(await pc.pay({ amount, currency: $("currency").value, lane }));
  } catch (err) {
    $("start").disabled = false;
    showError(err.code === "lane_busy" ? { message: t("busy") } : err);
  }
}

function follow(payment) {
  current = payment;
  sessionStorage.setItem("paycode-payment", payment.reference); // a reload picks the payment up again
  current.on("update", render);
  render(current.data);
}

async function cancel() {
  if (!current) return;
  try {
    render(await current.cancel());
  } catch (err) {
    showError(err);
  }
}

async function refund() {
  if (!current) return;
  try {
    await current.refund({ amount: $("refund-amount").value.trim() });
    render(current.data);
    $("refund-box").hidden = true;
  } catch (err) {
    $("error").textContent = t("refund_failed", { error: err.message });
  }
}

function nextSale() {
  current = null;
  sessionStorage.removeItem("paycode-payment");
  stopCountdown();
  $("amount").value = "";
  $("refund-amount").value = "";
  $("wallet").textContent = "";
  $("error").textContent = "";
  $("receipt").hidden = true;
  $("refund-box").hidden = true;
  $("cancel").hidden = true;
  $("next").hidden = true;
  $("start").disabled = false;
  showStatus("idle", t("idle"));
  $("amount").focus();
}

async function showLanes() {
  const lanes = await pc.lanes();
  const select = $("lane");
  select.replaceChildren(...lanes.map((l) => new Option(l.name, l.name)));
  $("lane-box").hidden = lanes.length < 2;
  const lane = lanes.find((l) => l.name === select.value) || lanes[0];
  const el = $("scanner");
  if (lane && lane.scanner) {
    el.hidden = false;
    el.dataset.state = lane.scanner_state;
    el.textContent = lane.scanner_state === "open" ? t("scanner_open") : t("scanner_gone");
  }
}

async function open(token) {
  pc = new Paycode(location.origin, token);
  pc.on("disconnected", () => ($("connection").hidden = false));
  pc.on("connected", () => ($("connection").hidden = true));
  pc.on("event", (e) => {
    if (e.event && e.event.startsWith("scanner.")) showLanes().catch(() => undefined);
  });
  try {
    await pc.connect();
    await showLanes();
  } catch (err) {
    if (err.status === 401) {
      sessionStorage.removeItem("paycode-token");
      $("login").hidden = false;
      $("till").hidden = true;
      $("login-error").textContent = err.message;
      return;
    }
    showError(err);
  }
  $("login").hidden = true;
  $("till").hidden = false;
  const reference = sessionStorage.getItem("paycode-payment");
  if (reference) {
    try {
      follow(await pc.payment(reference));
      $("amount").value = current.data.amount;
      return;
    } catch (_) {
      sessionStorage.removeItem("paycode-payment");
    }
  }
  nextSale();
}

async function main() {
  lang = chooseLanguage();
  texts = await (await fetch("/v1/messages")).json();
  translatePage();
  $("sale").addEventListener("submit", start);
  $("cancel").addEventListener("click", cancel);
  $("refund").addEventListener("click", refund);
  $("next").addEventListener("click", nextSale);
  $("lane").addEventListener("change", () => showLanes().catch(() => undefined));
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    sessionStorage.setItem("paycode-token", token);
    open(token);
  });
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem("paycode-token", fromHash);
    history.replaceState(null, "", location.pathname + location.search); // the token leaves the address bar
  }
  const token = sessionStorage.getItem("paycode-token");
  if (token) {
    await open(token);
  } else {
    $("login").hidden = false;
  }
  document.body.dataset.ready = "true";
}

main();
