// The browser store: a JavaScript-only Streamlit component (Components v2, see browser_store.py) that
// keeps a few values in this browser for the apps, and nothing on screen:
//
// - localStorage entries: written or removed as Python asks, a random secret created where Python asks
//   for one and none is there yet (256 bits from crypto.getRandomValues), and the entries Python reads
//   sent back whenever they differ from what Python says it has (data.known: what it was told last,
//   with its own writes applied; so an unchanged store, or one changed only as Python asked, causes no
//   rerun: a rerun then would cut short the run a click started, and lose the click; and a Python that
//   lost its copy, e.g. to a "clear caches", is told again);
// - cookies: set (with Max-Age, Path=/, SameSite=Strict, Secure on https) or deleted as Python asks.
//   Python reads them itself with st.context.cookies when the page is next loaded.
//
// Everything is idempotent: Streamlit calls this function again on every rerun with the same data.

function randomSecret() {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function storage() {
  try {
    const probe = "signature-enrollment.probe";
    window.localStorage.setItem(probe, "1");
    window.localStorage.removeItem(probe);
    return window.localStorage;
  } catch {
    return null; // private mode or storage switched off: Python is told, and falls back
  }
}

function setCookie(name, cookie) {
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  const base = `; Path=/; SameSite=Strict${secure}`;
  if (cookie === null) {
    document.cookie = `${name}=; Max-Age=0${base}`;
  } else {
    document.cookie = `${name}=${cookie.value}; Max-Age=${Math.max(0, Math.floor(cookie.maxAge))}${base}`;
  }
}

// JSON with every object's keys sorted: localStorage lists its keys in no particular order.
function canonical(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

export default function (component) {
  const { data, setStateValue } = component;
  for (const [name, cookie] of Object.entries(data.cookies ?? {})) setCookie(name, cookie);

  const store = storage();
  const values = {};
  if (store) {
    for (const [key, value] of Object.entries(data.write ?? {})) {
      if (value === null) store.removeItem(key);
      else if (store.getItem(key) !== value) store.setItem(key, value);
    }
    for (const key of data.secrets ?? []) {
      if (!store.getItem(key)) store.setItem(key, randomSecret());
    }
    const prefixes = data.readPrefixes ?? [];
    for (let i = 0; i < store.length; i += 1) {
      const key = store.key(i);
      if (key !== null && prefixes.some((prefix) => key.startsWith(prefix))) values[key] = store.getItem(key);
    }
    for (const key of data.read ?? []) {
      const value = store.getItem(key);
      if (value !== null) values[key] = value;
    }
  }
  if (data.report === false) return; // a writer only: no answer, so no rerun
  const answer = { available: Boolean(store), values };
  if (canonical(answer) !== canonical(data.known ?? null)) setStateValue("store", answer);
}
