// The pen recorder: a JavaScript-only Streamlit component mounted beside the drawing canvas
// (streamlit-drawable-canvas 0.13) in one container (see pen_recorder.py).
//
// - It records every pointer point drawn on the canvas: canvas pixels, the event's time, pressure,
//   pointer type and tilt, keeping the coalesced events phones batch into one pointermove. The
//   canvas itself reports paths without times.
// - It fits the canvas to the screen with a CSS scale (one coordinate space whatever the display
//   size): as wide as the column, up to 1.6x, and short enough that the instruction, the pad and its
//   buttons fit the window's height together; it scrolls them into view. It also hides the canvas's own toolbar, whose invisible buttons would otherwise catch
//   taps on the pad's top-right corner.
// - Until Python says the pad is ready, it covers the pad with "Loading the canvas…", so a stroke
//   cannot start on a pad that is not listening yet.
//
// The canvas renders in its own open shadow root; this script, like every Components v2 script, runs
// with the page's DOM rights, so it can reach in. A MutationObserver on the page does not see nodes
// added inside shadow roots, so the canvas is looked for again on a timer.

const SHARED_KEY = Symbol.for("signature-enrollment.pen-recorder");
// One state per page: the module is evaluated once, but keep it on globalThis in case it is not.
const shared = (globalThis[SHARED_KEY] ??= {
  pads: new WeakMap(), // the recorder's mount point (its shadow root) -> pad record
  live: new Set(), // the records of mounted recorders
  renders: 0, // counts render calls: the latest rendered record of a container is its current one
  active: null, // the stroke being drawn: {pad, epoch, pointerId, canvas, stroke}
  listening: false,
});

const LOOK_AGAIN_MS = 150;
// The pad grows with its column up to this scale: 560 x 400 px on a desktop. Beyond it the canvas's
// 350 x 250 px bitmap (its coordinate space) would look blurred.
const MAX_SCALE = 1.6;
const MIN_SCALE = 0.5;
const EDGE_PX = 8; // kept free above and below the drawing area when it is fitted to the window
const STYLE_ID = "pen-recorder-style";
const WAIT_CLASS = "pen-recorder-wait";

const round2 = (v) => Math.round(v * 100) / 100;
const round1 = (v) => Math.round(v * 10) / 10;

// ------------------------------------------------------------------ finding the canvas

// The Fabric upper canvas (the one that takes pointer input) under `box`, through open shadow roots.
function findCanvas(box) {
  const scopes = [box];
  while (scopes.length) {
    const scope = scopes.pop();
    for (const el of scope.querySelectorAll("*")) {
      if (!el.shadowRoot) continue;
      const upper = el.shadowRoot.querySelector("canvas.upper-canvas");
      if (upper) return { root: el.shadowRoot, upper };
      scopes.push(el.shadowRoot);
    }
  }
  return null;
}

function padBox(pad) {
  return pad.host.isConnected ? pad.host.closest(`.${pad.boxClass}`) : null;
}

// The recorder in charge of the pad's container: the one Streamlit rendered last. When the next step
// is shown, the previous step's recorder stays in the page (stale) until the app's run ends, in the
// same container, and must neither restyle the new canvas nor take its strokes.
function currentPad(box) {
  let best = null;
  for (const pad of shared.live) {
    if (padBox(pad) === box && (!best || pad.rendered > best.rendered)) best = pad;
  }
  return best;
}

// Styles put inside the canvas's shadow root (the page's styles cannot reach it).
function canvasStyle(pad, scale) {
  const w = round2(pad.width * scale);
  const h = round2(pad.height * scale);
  return `
    .dc-toolbar { display: none !important; }
    .dc-root { max-width: none !important; }
    .dc-scroll { width: ${w}px !important; height: ${h}px !important; overflow: hidden !important; }
    .dc-container { transform: scale(${scale}); transform-origin: 0 0; }
    .${WAIT_CLASS} {
      position: absolute; inset: 0; z-index: 30; display: flex; align-items: center;
      justify-content: center; touch-action: none; font: inherit; font-size: 1rem;
      color: var(--st-text-color, #31333f);
      background: color-mix(in srgb, var(--st-background-color, #fff) 85%, transparent);
    }
    .${WAIT_CLASS}[hidden] { display: none; }
  `;
}

// The scale that fits the pad to the screen: as wide as its column allows, and low enough that the
// whole drawing area (the instruction above the pad, the pad, Undo / Clear / Save below it) fits in
// the window's height, so that on a phone, held either way, the pad and Save are on screen together.
function fitScale(pad, box) {
  let scale = Math.min(MAX_SCALE, box.clientWidth / pad.width);
  const area = box.closest(`.${pad.areaClass}`);
  if (area && pad.scale) {
    // What the area holds besides the pad does not change with the pad's scale.
    const others = area.getBoundingClientRect().height - pad.height * pad.scale;
    scale = Math.min(scale, (window.innerHeight - others - 2 * EDGE_PX) / pad.height);
  }
  return Math.max(MIN_SCALE, Math.round(scale * 1000) / 1000);
}

// Scroll the drawing area into view when part of it is off screen (a new step on a short phone; the
// phone turned), the least distance that shows it whole.
function showArea(pad, box) {
  const area = box.closest(`.${pad.areaClass}`);
  if (!area) return;
  const rect = area.getBoundingClientRect();
  if (rect.top < 0 || rect.bottom > window.innerHeight) area.scrollIntoView({ block: "nearest" });
}

// Look for the canvas, style it, size it, and show or hide the "Loading the canvas…" cover.
function attach(pad) {
  const box = padBox(pad);
  if (!box || currentPad(box) !== pad) return;
  const found = findCanvas(box);
  if (!found) return;
  if (found.upper !== pad.upper) {
    pad.upper = found.upper;
    pad.scale = null; // a new canvas (or a new shadow root): style it again
    pad.shown = false; // and bring it into view once it has its size
  }
  const scale = fitScale(pad, box);
  let style = found.root.getElementById(STYLE_ID);
  if (!style) {
    style = document.createElement("style");
    style.id = STYLE_ID;
    found.root.appendChild(style);
    pad.scale = null;
  }
  if (scale > 0 && Math.abs(scale - (pad.scale ?? 0)) > 0.002) {
    const first = !pad.scale;
    pad.scale = scale;
    style.textContent = canvasStyle(pad, scale);
    // The first scale knew nothing of the area's height: fit again now that the pad has a size.
    if (first) requestAnimationFrame(() => attach(pad));
    pad.shown = false;
  } else if (!pad.shown && pad.scale) {
    pad.shown = true;
    showArea(pad, box);
  }
  const root = found.root.querySelector(".dc-root");
  if (root) {
    let wait = root.querySelector(`.${WAIT_CLASS}`);
    if (!wait) {
      wait = document.createElement("div");
      wait.className = WAIT_CLASS;
      wait.textContent = "Loading the canvas…"; // the words of the line under the pad
      root.appendChild(wait);
    }
    wait.hidden = pad.ready;
  }
  if (!pad.attachedSent && pad.scale) {
    pad.attachedSent = true;
    pad.setStateValue("attached", true);
  }
}

// ------------------------------------------------------------------ recording

function upperCanvasOf(event) {
  const target = event.composedPath()[0];
  return target instanceof HTMLCanvasElement && target.classList.contains("upper-canvas") ? target : null;
}

// The current recorder of the container the canvas is in.
function padOf(canvas) {
  const host = canvas.getRootNode().host;
  for (const pad of shared.live) {
    const box = padBox(pad);
    if (box && host && box.contains(host)) return currentPad(box);
  }
  return null;
}

function addPoint(active, ev) {
  const rect = active.canvas.getBoundingClientRect();
  if (!rect.width || !rect.height) return;
  const { pad, stroke } = active;
  const x = round2(((ev.clientX - rect.left) * pad.width) / rect.width);
  const y = round2(((ev.clientY - rect.top) * pad.height) / rect.height);
  // Absolute time in ms (the page's time origin + the event's own time stamp): Python makes it
  // relative to the drawing's first point, also across our Undo/Clear and reruns.
  const time = round1(performance.timeOrigin + ev.timeStamp);
  const points = stroke.points;
  const last = points[points.length - 1];
  if (last && (time < last[2] || (time === last[2] && last[0] === x && last[1] === y))) return;
  const point = [x, y, time, Math.round((ev.pressure ?? 0) * 1000) / 1000];
  if (ev.pointerType === "pen") point.push(ev.tiltX ?? 0, ev.tiltY ?? 0);
  points.push(point);
}

function onPointerDown(ev) {
  if (!ev.isPrimary || (ev.pointerType === "mouse" && ev.button !== 0)) return;
  const canvas = upperCanvasOf(ev);
  const pad = canvas && padOf(canvas);
  if (!pad || !pad.ready || pad.upper !== canvas) return;
  pad.nextId += 1;
  shared.active = {
    pad,
    epoch: pad.epoch,
    pointerId: ev.pointerId,
    canvas,
    stroke: { id: pad.nextId, pointerType: ev.pointerType || "mouse", points: [] },
  };
  addPoint(shared.active, ev);
}

function onPointerMove(ev) {
  const active = shared.active;
  if (!active || ev.pointerId !== active.pointerId) return;
  // Phones deliver one pointermove per frame; the events it stands for are kept here.
  const batch = typeof ev.getCoalescedEvents === "function" ? ev.getCoalescedEvents() : [];
  for (const one of batch.length ? batch : [ev]) addPoint(active, one);
}

function onPointerEnd(ev) {
  const active = shared.active;
  if (!active || ev.pointerId !== active.pointerId) return;
  shared.active = null;
  if (ev.type === "pointerup") addPoint(active, ev);
  const { pad, stroke } = active;
  if (pad.epoch !== active.epoch || !stroke.points.length) return; // the pad was reset meanwhile
  pad.strokes.push(stroke);
  send(pad);
}

// The recorded strokes since the pad's last reset (its epoch), compact: [x, y, time, pressure(, tiltX,
// tiltY)] per point. Python pairs them with the canvas's paths.
function send(pad) {
  pad.setStateValue("pen", { epoch: pad.epoch, strokes: pad.strokes });
}

function listen() {
  if (shared.listening) return;
  shared.listening = true;
  // Capture phase on window: seen before the canvas's own handlers, whatever they do with the event.
  const options = { capture: true, passive: true };
  window.addEventListener("pointerdown", onPointerDown, options);
  window.addEventListener("pointermove", onPointerMove, options);
  window.addEventListener("pointerup", onPointerEnd, options);
  window.addEventListener("pointercancel", onPointerEnd, options);
}

// ------------------------------------------------------------------ the component

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  // One record per mount: a remounted recorder (a new element, and a new widget state in Python)
  // starts afresh and reports itself attached again.
  let pad = shared.pads.get(parentElement);
  if (!pad) {
    pad = { strokes: [], nextId: 0, epoch: data.epoch, upper: null, scale: null, attachedSent: false };
    shared.pads.set(parentElement, pad);
    shared.live.add(pad);
  }
  shared.renders += 1;
  pad.rendered = shared.renders;
  if (pad.epoch !== data.epoch) {
    // Python redrew the canvas (our Undo / Clear): what was recorded before is Python's now.
    pad.epoch = data.epoch;
    pad.strokes = [];
  }
  Object.assign(pad, {
    host: parentElement instanceof ShadowRoot ? parentElement.host : parentElement,
    setStateValue,
    boxClass: data.box,
    areaClass: data.area,
    width: data.width,
    height: data.height,
    ready: Boolean(data.ready),
  });
  listen();
  attach(pad);
  // Streamlit calls this function again on every rerun (new data) and runs only the last cleanup, at
  // unmount: one timer and one observer per mount, not per call.
  if (!pad.timer) {
    pad.timer = setInterval(() => attach(pad), LOOK_AGAIN_MS);
    pad.resize = new ResizeObserver(() => attach(pad));
    // The window's height bounds the pad too (a phone turned, a browser bar shown): fit it again.
    pad.onWindow = () => attach(pad);
    window.addEventListener("resize", pad.onWindow);
  }
  const box = padBox(pad);
  if (box && box !== pad.observed) {
    pad.resize.disconnect();
    pad.resize.observe(box);
    pad.observed = box;
  }
  return () => {
    clearInterval(pad.timer);
    pad.resize.disconnect();
    window.removeEventListener("resize", pad.onWindow);
    shared.pads.delete(parentElement);
    shared.live.delete(pad);
  };
}
