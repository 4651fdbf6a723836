// A function's accuracy (#27), from the outputs people corrected: its metrics over all versions,
// per version and per field, and a route function's confusion matrix (GET /v3/functions/metrics);
// two versions compared (POST /v3/functions/compare); and a regression run — the baseline's
// corrected inputs replayed on the comparison version (POST /v3/functions/regression), its calls
// followed until they finish, the baseline's corrections carried over to what they produced
// (POST /v3/functions/regression/corrections), and the two versions compared on those inputs.

import { ApiError, get, post } from "../api.js";
import { badge, errorBox, h, route, section, table } from "../dom.js";

/** The function types whose outputs a person corrects: those with an accuracy. */
export const CORRECTABLE = ["transform", "analyze", "join", "route"];

const RATES = [
  ["accuracy", "Accuracy"],
  ["precision", "Precision"],
  ["recall", "Recall"],
  ["f1Score", "F1"],
];
const COUNTS = [
  ["tp", "TP"],
  ["fp", "FP"],
  ["fn", "FN"],
  ["tn", "TN"],
];
const TERMINAL = ["completed", "failed"];
const POLL_MS = 1000; // how often a regression's unfinished calls are asked for
const PAGE = 100; // the API's largest page: calls asked for at once

const plural = (count, one, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
const signed = (value, digits) => `${value > 0 ? "+" : value < 0 ? "−" : "±"}${Math.abs(value).toFixed(digits)}`;

/** A number of the API as shown, with the value itself in data-value (null: "—", no data-value). */
function shown(value, text) {
  return value === null || value === undefined ? h("span", { class: "muted" }, "—") : h("span", { "data-value": value }, text(value));
}
const rate = (value) => shown(value, (v) => `${(v * 100).toFixed(1)} %`);
const points = (value) => shown(value, (v) => `${signed(v * 100, 1)} pts`);
const lift = (value) => shown(value, (v) => `${signed(v, 1)} %`);

function metricCells(metrics) {
  return [...RATES.map(([key]) => rate(metrics[key])), ...COUNTS.map(([key]) => String(metrics[key]))];
}

function loading(text) {
  return h("p", { class: "muted", role: "status" }, text);
}

function versionSelect(label, name, numbers, selected) {
  return h(
    "label",
    {},
    `${label} `,
    h(
      "select",
      { name },
      numbers.map((number) => h("option", { value: number, selected: number === selected }, `v${number}`)),
    ),
  );
}

/** Baseline and comparison selects: the previous and the current version unless chosen otherwise. */
function versionPair(fn) {
  const numbers = Array.from({ length: fn.versionNum }, (_, index) => fn.versionNum - index);
  return [
    versionSelect("Baseline", "baselineVersionNum", numbers, fn.versionNum - 1),
    versionSelect("Comparison", "comparisonVersionNum", numbers, fn.versionNum),
  ];
}

function chosenVersions(form) {
  const data = new FormData(form);
  return { baselineVersionNum: Number(data.get("baselineVersionNum")), comparisonVersionNum: Number(data.get("comparisonVersionNum")) };
}

// --- metrics -------------------------------------------------------------------------------------

function routeConfusion(confusion) {
  const corrected = Object.keys(confusion).sort();
  const chosen = [...new Set(corrected.flatMap((right) => Object.keys(confusion[right])))].sort();
  const name = (route) => (route === "" ? h("span", { class: "muted" }, "(none)") : route);
  return [
    h("h3", {}, "Routes: chosen against corrected"),
    h("p", { class: "muted" }, "Each row is the route a person said was right, each column the route the function chose."),
    table(
      ["Corrected \\ chosen", ...chosen.map((route) => (route === "" ? "(none)" : route))],
      corrected.map((right) => [name(right), ...chosen.map((route) => String(confusion[right][route] ?? 0))]),
      "No route corrected yet.",
    ),
  ];
}

/** The "Accuracy" section: ``entry`` is the function's item of GET /v3/functions/metrics. */
function accuracySection(fn, entry) {
  const labelled = () => {
    if (!entry?.totalLabeledResults) {
      return h(
        "p",
        { class: "empty" },
        `${plural(entry?.totalResults ?? 0, "output")}, none labelled yet. Correct some outputs (`,
        h("a", { href: `${route("review")}?functionNames=${encodeURIComponent(fn.functionName)}` }, "Review"),
        ") to see accuracy.",
      );
    }
    const headings = ["Version", "Outputs", "Labelled", ...RATES.map(([, label]) => label), ...COUNTS.map(([, label]) => label)];
    const row = (label, one) => [label, String(one.totalResults), String(one.totalLabeledResults), ...metricCells(one.metrics)];
    const versions = [...(entry.versions ?? [])].sort((a, b) => b.versionNum - a.versionNum);
    const fieldRows = (entry.fieldMetrics ?? []).map((field) => [h("code", {}, field.fieldPath), ...metricCells(field.metrics)]);
    return [
      h(
        "p",
        { class: "count" },
        `${plural(entry.totalLabeledResults, "labelled output")} of ${entry.totalResults}, all versions; regression outputs are left out.`,
      ),
      table(headings, [...versions.map((one) => row(`v${one.versionNum}`, one)), row("All versions", entry)], ""),
      fieldRows.length
        ? h(
            "details",
            { class: "field-metrics" },
            h("summary", {}, `Per field (${plural(fieldRows.length, "field")}, all versions)`),
            table(["Field", ...RATES.map(([, label]) => label), ...COUNTS.map(([, label]) => label)], fieldRows, ""),
          )
        : null,
      entry.routeConfusion ? routeConfusion(entry.routeConfusion) : null,
    ];
  };
  const node = section("Accuracy", labelled());
  node.classList.add("accuracy");
  return node;
}

// --- comparison ----------------------------------------------------------------------------------

/** An answer of POST /v3/functions/compare. */
function comparisonView(answer) {
  const aggregate = answer.aggregateComparison ?? {};
  const changes = (answer.fieldMetricsChanges ?? []).flatMap((change) =>
    RATES.map(([key, label]) => {
      const metric = change.comparison?.[key] ?? {};
      return [h("code", {}, change.fieldPath), label, rate(metric.baselineValue), rate(metric.comparisonValue), points(metric.difference), lift(metric.liftPercent)];
    }),
  );
  return h(
    "div",
    { class: "comparison" },
    h(
      "p",
      { class: "count" },
      `Version ${answer.baselineVersionNum} (${plural(answer.baselineTransformationCount, "labelled output")}) against version ${answer.comparisonVersionNum} (${plural(answer.comparisonTransformationCount, "labelled output")})`,
    ),
    answer.message ? h("p", { class: "notice", role: "status" }, answer.message) : null,
    h(
      "div",
      { class: "aggregate" },
      table(
        ["Metric", "Baseline", "Comparison", "Difference", "Lift"],
        RATES.map(([key, label]) => {
          const metric = aggregate[key] ?? {};
          return [label, rate(metric.baselineValue), rate(metric.comparisonValue), points(metric.difference), lift(metric.liftPercent)];
        }),
        "",
      ),
    ),
    h("h3", {}, "Field changes"),
    h("div", { class: "field-changes" }, table(["Field", "Metric", "Baseline", "Comparison", "Difference", "Lift"], changes, "No field changed.")),
  );
}

async function compared(body, into) {
  into.replaceChildren(loading("Comparing…"));
  try {
    into.replaceChildren(comparisonView(await post("/v3/functions/compare", body)));
  } catch (error) {
    into.replaceChildren(errorBox(error.message));
  }
}

function compareSection(fn) {
  const result = h("div", { class: "compare-result" });
  const node = section(
    "Compare versions",
    h(
      "form",
      {
        class: "filters",
        onsubmit: async (submitted) => {
          submitted.preventDefault();
          const button = submitted.target.querySelector("button");
          button.disabled = true;
          const isRegression = new FormData(submitted.target).has("isRegression");
          await compared({ functionName: fn.functionName, ...chosenVersions(submitted.target), isRegression }, result);
          button.disabled = false;
        },
      },
      versionPair(fn),
      h("label", {}, h("input", { type: "checkbox", name: "isRegression" }), " Regression outputs only"),
      h("button", { type: "submit" }, "Compare"),
    ),
    result,
  );
  node.classList.add("compare");
  return node;
}

// --- regression ----------------------------------------------------------------------------------

/** Resolves after ``ms``, or at once when ``signal`` is aborted. */
function pause(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/**
 * Ask for the calls ``ids`` every POLL_MS until all are finished (or ``signal`` is aborted: the
 * view was left), ``onCall(call)`` for each answer; only the unfinished ones are asked for again,
 * a page of them per request (List Calls with callIDs). True once all are finished.
 */
async function pollCalls(ids, onCall, onError, signal) {
  let waiting = [...ids];
  while (waiting.length && !signal.aborted) {
    try {
      const finished = new Set();
      for (let start = 0; start < waiting.length && !signal.aborted; start += PAGE) {
        const { calls } = await get("/v2/calls", { callIDs: waiting.slice(start, start + PAGE).join(","), limit: PAGE });
        for (const call of calls) {
          onCall(call);
          if (TERMINAL.includes(call.status)) finished.add(call.callID);
        }
      }
      waiting = waiting.filter((id) => !finished.has(id));
    } catch (error) {
      onError(error);
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) return false; // refused: asking again will not help
    }
    if (waiting.length) await pause(POLL_MS, signal);
  }
  return !waiting.length;
}

function carriedView(applied) {
  const errors = Object.entries(applied.errors ?? {});
  return h(
    "div",
    { class: "carried" },
    h(
      "p",
      { role: "status" },
      `Corrections carried over to ${plural(applied.applied, "output")}; ${applied.skipped} skipped (already corrected)` +
        (errors.length ? `; ${plural(errors.length, "error")}:` : "."),
    ),
    errors.length ? h("ul", {}, errors.map(([eventID, message]) => h("li", {}, h("code", {}, eventID), ` ${message}`))) : null,
  );
}

/** What a regression run shows: its calls and their statuses, then the carrying over and the comparison. */
async function showRun(fn, versions, answer, into, signal) {
  const calls = answer.result?.calls ?? [];
  if (!calls.length) {
    into.replaceChildren(
      h("p", { class: "empty" }, `Version ${versions.baselineVersionNum} has no labelled output to replay: correct some of its outputs first.`),
    );
    return;
  }
  const holders = new Map(calls.map((call) => [call.callID, h("span", {}, badge("pending"))]));
  const statuses = new Map();
  const progress = h("p", { role: "status", class: "progress" });
  const counted = () => {
    const count = (status) => [...statuses.values()].filter((one) => one === status).length;
    const done = count("completed") + count("failed");
    const failed = count("failed");
    progress.replaceChildren(
      done === calls.length
        ? `All ${plural(calls.length, "call")} finished${failed ? `, ${failed} failed` : ""}.`
        : `${done} of ${plural(calls.length, "call")} finished; following the others…`,
    );
  };
  counted();
  const problem = h("div");
  const after = h("div", { class: "after-run" });
  into.replaceChildren(
    h("p", { class: "count" }, `${plural(answer.result.totalSamples, "output")} of version ${versions.baselineVersionNum} replayed on version ${versions.comparisonVersionNum}:`),
    table(
      ["Call", "Replays reference", "Status"],
      calls.map((call) => [h("a", { href: route("calls", call.callID) }, call.callID), call.originalReferenceID || "—", holders.get(call.callID)]),
      "",
    ),
    progress,
    problem,
    after,
  );
  const onCall = (call) => {
    problem.replaceChildren();
    if (!holders.has(call.callID) || statuses.get(call.callID) === call.status) return;
    statuses.set(call.callID, call.status);
    holders.get(call.callID).replaceChildren(badge(call.status));
    counted();
  };
  const finished = await pollCalls(calls.map((call) => call.callID), onCall, (error) => problem.replaceChildren(errorBox(error.message)), signal);
  if (!finished || signal.aborted) return;
  const carried = h("div");
  const button = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        button.disabled = true;
        carried.replaceChildren(loading("Carrying the corrections over…"));
        let applied;
        try {
          applied = await post("/v3/functions/regression/corrections", { functionName: fn.functionName, ...versions });
        } catch (error) {
          button.disabled = false;
          return carried.replaceChildren(errorBox(error.message));
        }
        const comparison = h("div", { class: "regression-comparison" });
        carried.replaceChildren(carriedView(applied), h("h3", {}, "The regression compared"), comparison);
        await compared({ functionName: fn.functionName, ...versions, isRegression: true }, comparison);
      },
    },
    "Carry the baseline's corrections over",
  );
  after.replaceChildren(
    h("p", { class: "muted" }, `Then the outputs of version ${versions.comparisonVersionNum} can be compared with the corrected outputs of version ${versions.baselineVersionNum} they replayed.`),
    button,
    carried,
  );
}

function regressionSection(fn, signal) {
  const run = h("div", { class: "regression-run" });
  const node = section(
    "Run a regression",
    h("p", { class: "muted" }, "Replays the corrected inputs of the baseline version on the comparison version, as calls of their own."),
    h(
      "form",
      {
        class: "filters",
        onsubmit: async (submitted) => {
          submitted.preventDefault();
          const button = submitted.target.querySelector("button");
          const versions = chosenVersions(submitted.target);
          const sampleSize = Number(new FormData(submitted.target).get("sampleSize"));
          button.disabled = true;
          run.replaceChildren(loading("Starting the regression…"));
          try {
            const answer = await post("/v3/functions/regression", { functionName: fn.functionName, ...versions, sampleSize });
            await showRun(fn, versions, answer, run, signal);
          } catch (error) {
            run.replaceChildren(errorBox(error.message));
          }
          button.disabled = false;
        },
      },
      versionPair(fn),
      h("label", {}, "Sample size ", h("input", { type: "number", name: "sampleSize", min: 1, max: 1000, value: 50, required: true })),
      h("button", { type: "submit" }, "Run regression"),
    ),
    run,
  );
  node.classList.add("regression");
  return node;
}

/**
 * The accuracy sections of a function's page (none for a type without correctable outputs):
 * its metrics, and with two versions or more, a comparison and a regression run. ``signal``
 * ends what they follow when the page is left.
 */
export async function accuracySections(fn, signal) {
  if (!CORRECTABLE.includes(fn.type)) return [];
  let metrics;
  try {
    const { functions } = await get("/v3/functions/metrics", { functionNames: fn.functionName });
    const entry = functions.find((one) => one.functionName === fn.functionName);
    metrics = accuracySection(fn, entry);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    metrics = section("Accuracy", errorBox(error.message));
  }
  if (fn.versionNum < 2) {
    metrics.append(h("p", { class: "muted" }, "Versions can be compared, and regressions run, once the function has a second version."));
    return [metrics];
  }
  return [metrics, compareSection(fn), regressionSection(fn, signal)];
}
