"""The picture as one self-contained HTML page: the SVG drawing plus a panel that, on a click on
a node, shows its upstream, local and downstream gradients. No network, no external files."""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

from ..engine.forward import is_array
from . import numbers
from .drawing import SINK, Picture, node_key


def _plain(x: Any) -> Any:
    if x is None:
        return None
    if is_array(x):
        return x.tolist()
    x = float(x)
    return x if math.isfinite(x) else str(x)


def page_data(pic: Picture) -> dict:
    """What the panel shows per node, keyed by the drawing's node ids (n3, out, ...)."""
    p = 6
    boxes = {b.id: b for b in pic.boxes}
    rows = pic.rows
    nodes = {}
    for b in pic.boxes:
        if b.id == SINK:
            continue
        r = rows[b.id]
        inputs = []
        for k in r.shown_inputs:  # a constant folded into the gate gets no gradient
            j = r.inputs[k]
            local = r.local[k] if k < len(r.local) else None
            inputs.append({
                "node": node_key(j) if j in boxes else None,
                "label": rows[j].name or rows[j].text,
                "value": numbers.number(rows[j].value, p),
                "local": "Jacobian" if local is None else numbers.number(local, p),
                "downstream": numbers.number(r.downstream[k], p),
            })
        nodes[node_key(b.id)] = {
            "label": b.label, "name": b.name, "text": r.text, "op": r.op, "role": r.role,
            "kind": b.kind, "value": numbers.number(r.value, p),
            "upstream": numbers.number(r.grad, p), "inputs": inputs,
            "consumers": [{"node": node_key(c) if c in boxes else None,
                           "label": rows[c].name or rows[c].text,
                           "grad": numbers.number(g, p)} for c, g in r.contributions],
            "raw": {"value": _plain(r.value), "upstream": _plain(r.grad)},
        }
    out = rows[-1] if rows else None
    return {"nodes": nodes, "output": node_key(out.id) if out else None}


def _strip_svg(svg: str) -> str:
    """The engine's SVG without its XML prologue, so it can sit inline in HTML."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.DOTALL)
    return svg.strip()


def to_html(pic: Picture, svg: str, title: str) -> str:
    data = json.dumps(page_data(pic), allow_nan=False, ensure_ascii=False)
    # Nothing in the JSON may close the script element or open a comment.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _TEMPLATE.format(title=html.escape(title), svg=_strip_svg(svg), data=data)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>backprop: {title}</title>
<style>
  body {{ font-family: Helvetica, Arial, sans-serif; margin: 0; color: #24292f; }}
  header {{ padding: 10px 16px; border-bottom: 1px solid #d0d7de; }}
  header code {{ background: #f6f8fa; padding: 2px 6px; border-radius: 4px; }}
  .legend span {{ margin-right: 14px; }}
  .green {{ color: #1a7f37; }} .red {{ color: #cf222e; }}
  main {{ display: flex; align-items: flex-start; gap: 12px; padding: 12px; }}
  #drawing {{ flex: 1 1 auto; overflow: auto; }}
  #drawing svg {{ max-width: 100%; height: auto; }}
  #drawing g.node {{ cursor: pointer; }}
  #drawing g.node.selected ellipse {{ stroke: #0969da; stroke-width: 3; }}
  #drawing g.node.selected text {{ fill: #0969da; }}
  #panel {{ flex: 0 0 320px; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 14px;
            background: #f6f8fa; font-size: 14px; min-height: 120px; }}
  #panel h2 {{ font-size: 15px; margin: 12px 0 4px; }}
  #panel h2:first-child {{ margin-top: 0; }}
  #panel table {{ border-collapse: collapse; width: 100%; margin-top: 6px; }}
  #panel td, #panel th {{ text-align: left; padding: 2px 6px 2px 0; vertical-align: top; }}
  #panel .num {{ font-family: Menlo, Consolas, monospace; }}
  #panel .muted {{ color: #57606a; }}
</style>
</head>
<body>
<header>
  <div><code>{title}</code></div>
  <div class="legend"><span class="green">green: forward value (above each edge)</span>
  <span class="red">red: gradient flowing back (below each edge)</span>
  <span>click a node for its upstream, local and downstream gradients</span></div>
</header>
<main>
  <div id="drawing">
{svg}
  </div>
  <aside id="panel"><p class="muted">Click a node in the graph.</p></aside>
</main>
<script type="application/json" id="backprop-data">{data}</script>
<script>
(function () {{
  "use strict";
  var data = JSON.parse(document.getElementById("backprop-data").textContent);
  var panel = document.getElementById("panel");
  function el(tag, text, cls) {{
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }}
  function row(table, cells, classes) {{
    var tr = el("tr");
    cells.forEach(function (c, k) {{ tr.appendChild(el("td", c, classes && classes[k])); }});
    table.appendChild(tr);
  }}
  function show(key) {{
    var d = data.nodes[key];
    if (!d) return;
    document.querySelectorAll("#drawing g.node.selected").forEach(function (g) {{
      g.classList.remove("selected");
    }});
    var g = document.getElementById(key);
    if (g) g.classList.add("selected");
    panel.textContent = "";
    panel.dataset.node = key;
    var title = d.kind === "gate" ? "gate " + d.label : d.label;
    if (d.name && d.kind === "gate") title += "  (" + d.name + ")";
    panel.appendChild(el("h2", title));
    panel.appendChild(el("div", d.text, "num muted"));
    if (d.role) panel.appendChild(el("div", d.role, "muted"));
    var t = el("table");
    row(t, ["forward value", d.value], ["", "num green"]);
    row(t, ["upstream gradient", d.upstream], ["", "num red"]);
    panel.appendChild(t);
    if (d.inputs.length) {{
      panel.appendChild(el("h2", "to each input: downstream = upstream \u00d7 local"));
      var ti = el("table");
      var head = el("tr");
      ["input", "value", "local", "downstream"].forEach(function (h) {{
        head.appendChild(el("th", h));
      }});
      ti.appendChild(head);
      d.inputs.forEach(function (i) {{
        row(ti, [i.label, i.value, i.local, i.downstream], ["", "num green", "num", "num red"]);
      }});
      panel.appendChild(ti);
    }}
    if (d.consumers.length > 1) {{
      panel.appendChild(el("h2", "fan-out: upstream is the sum of"));
      var tc = el("table");
      d.consumers.forEach(function (c) {{ row(tc, [c.label, c.grad], ["", "num red"]); }});
      panel.appendChild(tc);
    }}
  }}
  document.querySelectorAll("#drawing g.node").forEach(function (g) {{
    if (data.nodes[g.id]) g.addEventListener("click", function () {{ show(g.id); }});
  }});
  window.backpropShow = show;
}})();
</script>
</body>
</html>
"""
