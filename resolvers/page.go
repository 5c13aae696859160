package resolvers

// pageHTML is the browser page served with Options.Page: a query editor that posts to the page's
// own URL, with the request headers given (a token), and shows the answer; subscriptions stream over
// SSE. It loads nothing from elsewhere, so it works without internet access.
var pageHTML = []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphQL</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;display:grid;grid-template:auto 1fr/1fr 1fr;height:100vh}
header{grid-column:1/3;padding:8px 12px;background:#222;color:#eee;display:flex;gap:12px;align-items:center}
textarea,pre{font:13px ui-monospace,monospace;margin:0;padding:10px;border:0;border-right:1px solid #ccc;overflow:auto}
#left{display:grid;grid-template-rows:3fr 1fr 1fr}#vars,#headers{border-top:1px solid #ccc}pre{white-space:pre-wrap}
button{font-weight:bold}
</style></head><body>
<header><button id="run">Run (Ctrl+Enter)</button><button id="stop" disabled>Stop</button>
<button id="schema">Schema SDL</button><span id="state"></span></header>
<div id="left"><textarea id="query" spellcheck="false">{
  getUser(id: "1") {
    name
    orders { id status items { quantity product { name } } }
  }
}</textarea><textarea id="vars" spellcheck="false" placeholder="variables (JSON)"></textarea>
<textarea id="headers" spellcheck="false" placeholder='request headers (JSON), e.g. {"Authorization": "Bearer <token>"}'></textarea></div>
<pre id="out"></pre>
<script>
const $ = id => document.getElementById(id);
let abort = null;
function headers(sub) {
  let h = {};
  try { h = $("headers").value.trim() ? JSON.parse($("headers").value) : {}; }
  catch (e) { throw new Error("headers: " + e.message); }
  return Object.assign(h, {"Content-Type": "application/json", "Accept": sub ? "text/event-stream" : "application/json"});
}
function body() {
  let variables = {};
  try { variables = $("vars").value.trim() ? JSON.parse($("vars").value) : {}; }
  catch (e) { throw new Error("variables: " + e.message); }
  return JSON.stringify({query: $("query").value, variables});
}
async function run() {
  if (abort) abort.abort();
  abort = new AbortController();
  const sub = /^\s*subscription\b/.test($("query").value.replace(/#.*$/mg, ""));
  $("out").textContent = ""; $("state").textContent = "running"; $("stop").disabled = !sub;
  try {
    const res = await fetch(location.pathname, {method: "POST", signal: abort.signal,
      headers: headers(sub), body: body()});
    if (!sub) { $("out").textContent = JSON.stringify(await res.json(), null, 2); return; }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, i); buf = buf.slice(i + 2);
        const data = ev.split("\n").filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("\n");
        if (data) $("out").textContent = JSON.stringify(JSON.parse(data), null, 2) + "\n\n" + $("out").textContent;
      }
    }
  } catch (e) { if (e.name !== "AbortError") $("out").textContent = String(e); }
  finally { $("state").textContent = ""; $("stop").disabled = true; }
}
$("run").onclick = run;
$("stop").onclick = () => abort && abort.abort();
$("schema").onclick = async () => {
  const res = await fetch(location.pathname + "/schema.graphql");
  $("out").textContent = res.ok ? await res.text() : "the schema is served at " + location.pathname + "/schema.graphql";
};
document.addEventListener("keydown", e => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(); });
</script></body></html>
`)
