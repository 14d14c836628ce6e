// The review page: every form saves at once through the JSON API; keys move between students.
"use strict";
const body = document.body;
const base = body.dataset.base;
const student = body.dataset.student;
const status = document.getElementById("status");

function say(text, ok) {
  status.textContent = text;
  status.className = ok ? "ok" : "error";
}

function showTotals(totals) {
  document.getElementById("final-total").textContent = totals.final;
  document.getElementById("auto-total").textContent = totals.auto;
  document.getElementById("unmarked").textContent = totals.unmarked;
  for (const span of document.querySelectorAll(".unit-total")) {
    const unit = totals.units[span.dataset.unit];
    if (unit) span.textContent = unit.text;
  }
}

async function post(path, payload) {
  const response = await fetch(base + "/api/" + path, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({student: student, ...payload}),
  });
  const data = await response.json().catch(() => ({error: "the server answered " + response.status}));
  if (!response.ok || !data.ok) throw new Error(data.error || ("HTTP " + response.status));
  showTotals(data.totals);
  return data;
}

function stamp(form, grader) {
  let span = form.querySelector(".saved");
  if (!span) { span = document.createElement("span"); span.className = "saved"; form.appendChild(span); }
  span.textContent = "saved by " + grader + " at " + new Date().toISOString().slice(0, 19) + "Z";
}

async function saveMark(form) {
  const points = form.elements.points.value;
  if (points === "") { say("enter points first", false); form.elements.points.focus(); return; }
  const values = JSON.stringify([points, form.elements.comment.value]);
  if (values === form.dataset.saved) return;  // Enter fires both change and submit: save once
  const before = form.dataset.saved;
  form.dataset.saved = values;
  try {
    const data = await post("mark", {unit: form.dataset.unit, item: form.dataset.item, points: points,
                                     comment: form.elements.comment.value});
    stamp(form, data.grader);
    say("saved: " + form.dataset.item, true);
  } catch (err) { form.dataset.saved = before || ""; say(err.message, false); }
}

async function saveOverride(form) {
  try {
    const data = await post("override", {unit: form.dataset.unit, test: form.dataset.test,
                                         score: form.elements.score.value, reason: form.elements.reason.value});
    stamp(form, data.grader);
    say("override saved: " + form.dataset.test, true);
  } catch (err) { say(err.message, false); }
}

for (const form of document.querySelectorAll("form.mark")) {
  form.addEventListener("submit", (e) => { e.preventDefault(); saveMark(form); });
  form.elements.points.addEventListener("change", () => saveMark(form));
  form.elements.comment.addEventListener("change", () => { if (form.elements.points.value !== "") saveMark(form); });
}
for (const form of document.querySelectorAll("form.override")) {
  form.addEventListener("submit", (e) => { e.preventDefault(); saveOverride(form); });
}
for (const button of document.querySelectorAll("button.clear")) {
  button.addEventListener("click", async () => {
    const form = button.closest("form");
    try {
      await post("clear", {kind: button.dataset.kind, unit: form.dataset.unit,
                           target: form.dataset.test || form.dataset.item});
      location.reload();
    } catch (err) { say(err.message, false); }
  });
}

const help = document.getElementById("help");
help.querySelector("button").addEventListener("click", () => help.close());
document.addEventListener("keydown", (e) => {
  const typing = ["INPUT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (typing) {
    if (e.key === "Escape") document.activeElement.blur();
    if (e.key === "Enter" && e.ctrlKey && document.activeElement.tagName === "TEXTAREA") {
      e.preventDefault();
      document.activeElement.closest("form").requestSubmit();
    }
    return;
  }
  if (e.ctrlKey || e.altKey || e.metaKey) return;
  const go = (url) => { if (url) location.href = url; };
  if (e.key === "n" || e.key === "j") go(body.dataset.next);
  else if (e.key === "p" || e.key === "k") go(body.dataset.previous);
  else if (e.key === "?") help.showModal();
});
