// The explainer page: draws what cnnstep explain computed, and shows one output's arithmetic on click.
// Every number comes from the page's data (the model's own forward pass); nothing is fetched.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("page-data").textContent);
  var views = data.layers;
  var marks = [];

  // ------------------------------------------------------------------ helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "html") node.innerHTML = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function floats(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }

  function factor(v) { return v < 0 ? "(" + fmt(v) + ")" : fmt(v); }

  function fmt(v) {
    if (!isFinite(v)) return String(v);
    if (v === 0) return "0";
    var a = Math.abs(v);
    if (a >= 1e4 || a < 1e-3) return v.toExponential(3);
    return String(Number(v.toPrecision(5)));
  }

  function exact(v) { return v.toPrecision(9); }  // float32 round trip

  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
  }

  function at(view, h, w, c) { return view.values[(h * view.shape[1] + w) * view.shape[2] + c]; }

  function weight(view, i, j, k, c) {
    var s = view.W_shape;
    return view.Wv[((i * s[1] + j) * s[2] + k) * s[3] + c];
  }

  function shapeText(shape) { return "(" + shape.join(", ") + ")"; }

  // colours: white at 0, red for positive, blue for negative; the input in grey levels
  function colourer(range, grey) {
    var lo = range[0], hi = range[1];
    if (grey) {
      var span = hi > lo ? hi - lo : 1, base = (lo >= 0 && hi <= 1) ? 0 : lo, top = (lo >= 0 && hi <= 1) ? 1 : span;
      return function (v) { var t = Math.max(0, Math.min(1, (v - base) / top)) * 255; return [t, t, t]; };
    }
    var m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return function (v) {
      var t = Math.max(-1, Math.min(1, v / m));
      if (t >= 0) return [255 - t * (255 - 178), 255 - t * (255 - 24), 255 - t * (255 - 43)];
      t = -t;
      return [255 - t * (255 - 33), 255 - t * (255 - 102), 255 - t * (255 - 172)];
    };
  }

  function paint(canvas, rows, cols, value, colour) {
    var ctx = canvas.getContext("2d"), image = ctx.createImageData(cols, rows);
    for (var r = 0; r < rows; r++) {
      for (var c = 0; c < cols; c++) {
        var rgb = colour(value(r, c)), o = (r * cols + c) * 4;
        image.data[o] = rgb[0]; image.data[o + 1] = rgb[1]; image.data[o + 2] = rgb[2]; image.data[o + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  function cellSize(rows, cols) { return Math.max(2, Math.min(28, Math.floor(112 / Math.max(rows, cols)))); }

  // ------------------------------------------------------------------ the page

  views.forEach(function (view) {
    if (view.data) view.values = floats(view.data);
    if (view.W) { view.Wv = floats(view.W); view.bv = floats(view.b); }
  });

  document.getElementById("model-text").textContent = "Model: " + data.model.text + ". Image: " + data.image.source + ".";
  document.getElementById("summary").textContent = data.model.summary;
  var input = document.getElementById("input-image");
  input.src = data.image.file;
  document.getElementById("image-note").textContent = data.image.note;

  var best = data.predicted;
  var heading = "Predicted: " + JSON.stringify(data.classes[best]) + " (probability " + data.probabilities[best].toFixed(3) + ")";
  if (data.image.label !== null) heading += "; true class " + JSON.stringify(data.image.label);
  document.getElementById("predicted").textContent = heading;
  var bars = document.getElementById("bars");
  data.classes.forEach(function (name, k) {
    var p = data.probabilities[k], cls = k === best ? "best" : "";
    bars.appendChild(el("span", { "class": cls, text: name }));
    var bar = el("div", { "class": "bar" });
    bar.style.width = (100 * p).toFixed(2) + "%";
    bars.appendChild(el("div", { "class": "bar-track " + cls, "data-class": name }, [bar]));
    bars.appendChild(el("span", { "class": cls, text: p.toFixed(3) }));
  });

  // every image-shaped output as a row of feature maps
  var layersBox = document.getElementById("layers");
  views.forEach(function (view, pos) {
    var title = (view.index < 0 ? "" : view.index + " · ") + view.name;
    var head = el("h3", { html: escapeHtml(title) + '<span class="config">' + escapeHtml(view.config) +
      '</span><span class="shape">' + (view.kind === "input" ? "shape " : "output ") + escapeHtml(shapeText(view.shape)) + "</span>" });
    if (!view.values) {
      layersBox.appendChild(el("div", { "class": "layer flat", id: "layer-" + pos }, [head]));
      return;
    }
    var rows = view.shape[0], cols = view.shape[1], chans = view.shape[2];
    var size = cellSize(rows, cols), colour = colourer(view.range, view.kind === "input");
    var maps = el("div", { "class": "maps" });
    view.maps = [];
    view.cell = size;
    for (var c = 0; c < chans; c++) {
      var canvas = el("canvas", { width: cols, height: rows, "data-pos": pos, "data-channel": c,
        title: view.name + " channel " + c });
      canvas.style.width = cols * size + "px";
      canvas.style.height = rows * size + "px";
      (function (ch) { paint(canvas, rows, cols, function (r, k) { return at(view, r, k, ch); }, colour); })(c);
      var box = el("div", { "class": "map" }, [canvas, el("span", { "class": "label", text: String(c) })]);
      maps.appendChild(box);
      view.maps.push(box);
    }
    layersBox.appendChild(el("div", { "class": "layer", id: "layer-" + pos, "data-kind": view.kind }, [head, maps]));
  });

  layersBox.addEventListener("click", function (event) {
    var canvas = event.target;
    if (canvas.tagName !== "CANVAS") return;
    var pos = Number(canvas.getAttribute("data-pos")), view = views[pos];
    var w = Math.min(view.shape[1] - 1, Math.max(0, Math.floor(event.offsetX / canvas.clientWidth * view.shape[1])));
    var h = Math.min(view.shape[0] - 1, Math.max(0, Math.floor(event.offsetY / canvas.clientHeight * view.shape[0])));
    show(pos, h, w, Number(canvas.getAttribute("data-channel")));
  });

  // the first convolution's filters
  var first = null;
  for (var i = 0; i < views.length; i++) if (views[i].kind === "conv") { first = i; break; }
  if (first === null) {
    document.getElementById("filters-section").style.display = "none";
  } else {
    var conv = views[first], s = conv.W_shape, filters = document.getElementById("filters");
    var wColour = colourer(conv.W_range, false);
    for (var c = 0; c < s[3]; c++) {
      var box = el("div", { "class": "filter", "data-filter": c, title: "filter " + c });
      for (var k = 0; k < s[2]; k++) {
        var canvas = el("canvas", { width: s[1], height: s[0] });
        (function (kk, cc) { paint(canvas, s[0], s[1], function (r, q) { return weight(conv, r, q, kk, cc); }, wColour); })(k, c);
        box.appendChild(canvas);
      }
      (function (cc, node) { node.addEventListener("click", function () { showFilter(first, cc, node); }); })(c, box);
      filters.appendChild(box);
    }
  }

  var anim = document.getElementById("animations");
  data.animations.forEach(function (a) {
    anim.appendChild(el("figure", {}, [el("img", { src: a.file, alt: a.caption }), el("figcaption", { text: a.caption })]));
  });

  // ------------------------------------------------------------------ the panel

  function clearMarks() {
    marks.forEach(function (m) { m.parentNode.removeChild(m); });
    marks = [];
    var chosen = document.querySelectorAll(".filter.chosen");
    for (var i = 0; i < chosen.length; i++) chosen[i].classList.remove("chosen");
  }

  function mark(view, channel, r0, c0, height, width, cls) {
    var rows = view.shape[0], cols = view.shape[1];
    var top = Math.max(0, r0), left = Math.max(0, c0);
    var bottom = Math.min(rows, r0 + height), right = Math.min(cols, c0 + width);
    if (bottom <= top || right <= left) return;
    var box = el("div", { "class": "mark " + (cls || "") });
    // a 2 px frame just around the cells (the canvas's content starts 1 px in, after its border)
    box.style.left = (left * view.cell - 1) + "px";
    box.style.top = (top * view.cell - 1) + "px";
    box.style.width = ((right - left) * view.cell + 4) + "px";
    box.style.height = ((bottom - top) * view.cell + 4) + "px";
    view.maps[channel].appendChild(box);
    marks.push(box);
  }

  function table(rows, cols, value, cellClass, role, channel) {
    var html = '<table class="grid" data-role="' + role + '"' + (channel === undefined ? "" : ' data-channel="' + channel + '"') + ">";
    for (var r = 0; r < rows; r++) {
      html += "<tr>";
      for (var c = 0; c < cols; c++) {
        var v = value(r, c), cls = cellClass ? cellClass(r, c, v) : "";
        html += '<td class="' + cls + '" data-value="' + (v === null ? "pad" : exact(v)) + '">' + (v === null ? "pad" : fmt(v)) + "</td>";
      }
      html += "</tr>";
    }
    return html + "</table>";
  }

  function title(view, h, w, c, symbol) {
    return "<h3>" + symbol + "[" + h + ", " + w + ", " + c + "] of layer " + view.index + " · " + escapeHtml(view.name) +
      ' <span class="config">' + escapeHtml(view.config) + "</span></h3>";
  }

  function result(label, v) {
    return '<p id="arith-result" class="formula">' + label + ' = <strong data-value="' + exact(v) + '">' + fmt(v) + "</strong></p>";
  }

  function show(pos, h, w, c) {
    var view = views[pos], below = views[pos - 1], panel = document.getElementById("panel");
    clearMarks();
    mark(view, c, h, w, 1, 1, "cell");
    var value = at(view, h, w, c), html = "<h2>One output, worked out</h2>";
    if (view.kind === "conv") html += convPanel(view, below, h, w, c, value);
    else if (view.kind === "pool") html += poolPanel(view, below, h, w, c, value);
    else if (view.kind === "relu") {
      var x = at(below, h, w, c);
      mark(below, c, h, w, 1, 1);
      html += title(view, h, w, c, "A") + '<p class="where">The same cell of the layer below, ' + escapeHtml(below.name) + ":</p>" +
        '<table class="grid" data-role="window"><tr><td data-value="' + exact(x) + '">' + fmt(x) + "</td></tr></table>" +
        result("max(x, 0) = max(" + fmt(x) + ", 0)", value);
    } else if (view.kind === "input") {
      html += "<h3>Pixel [" + h + ", " + w + ", " + c + "] of the input</h3>" + result("value", value);
    } else {
      html += title(view, h, w, c, "A") + result("value", value);
    }
    panel.innerHTML = html;
    panel.setAttribute("data-layer", pos);
  }

  function convPanel(view, below, h, w, c, value) {
    var fh = view.f[0], fw = view.f[1], top = view.pad[0], left = view.pad[2];
    var r0 = h * view.stride[0] - top, c0 = w * view.stride[1] - left, chans = below.shape[2];
    var html = title(view, h, w, c, "Z") +
      '<p class="where">Its window: rows ' + r0 + ".." + (r0 + fh - 1) + ", columns " + c0 + ".." + (c0 + fw - 1) +
      " of " + (below.index < 0 ? "the input" : "layer " + below.index + " · " + escapeHtml(below.name)) +
      " (outlined there), all " + chans + " channel" + (chans > 1 ? "s" : "") +
      (r0 < 0 || c0 < 0 || r0 + fh > below.shape[0] || c0 + fw > below.shape[1] ? "; the cells outside it are zero_pad's zeros (grey)" : "") +
      ". Channel k of the window meets channel k of filter " + c + ":</p><div class=\"pairs\">";
    var terms = [];
    for (var k = 0; k < chans; k++) {
      mark(below, k, r0, c0, fh, fw);
      var win = function (r, q) {
        var rr = r0 + r, qq = c0 + q;
        return rr < 0 || qq < 0 || rr >= below.shape[0] || qq >= below.shape[1] ? 0 : at(below, rr, qq, k);
      };
      var padClass = function (r, q) {
        var rr = r0 + r, qq = c0 + q;
        return rr < 0 || qq < 0 || rr >= below.shape[0] || qq >= below.shape[1] ? "pad" : "";
      };
      var wk = function (r, q) { return weight(view, r, q, k, c); };
      html += '<div class="pair"><span class="tag">channel ' + k + ": a_slice_prev[:, :, " + k + "] ⊙ W[:, :, " + k + ", " + c + "]</span>" +
        table(fh, fw, win, padClass, "window", k) + '<span class="op">⊙</span>' + table(fh, fw, wk, null, "filter", k) + "</div>";
      for (var r = 0; r < fh; r++) for (var q = 0; q < fw; q++) terms.push(factor(win(r, q)) + "·" + factor(wk(r, q)));
    }
    var b = view.bv[c];
    var sum = terms.length <= 27 ? terms.join(" + ") : terms.slice(0, 9).join(" + ") + " + … (" + terms.length + " products)";
    html += "</div>" +
      '<p class="formula">Z[' + h + ", " + w + ", " + c + "] = Σ a_slice_prev ⊙ W[:, :, :, " + c + "] + b[" + c + "]<br>= " +
      sum + ' + <span id="arith-bias" data-value="' + exact(b) + '">' + factor(b) + "</span></p>" +
      result("conv_single_step(a_slice_prev, W[:, :, :, " + c + "], b[:, :, :, " + c + "])", value) +
      '<p class="note">The value is the model\'s own, from conv_forward in its forward pass; b[' + c + "] = " + fmt(b) + ".</p>";
    return html;
  }

  function poolPanel(view, below, h, w, c, value) {
    var fh = view.f[0], fw = view.f[1], top = view.pad[0], left = view.pad[2];
    var r0 = h * view.stride[0] - top, c0 = w * view.stride[1] - left, real = [];
    mark(below, c, r0, c0, fh, fw);
    var win = function (r, q) {
      var rr = r0 + r, qq = c0 + q;
      if (rr < 0 || qq < 0 || rr >= below.shape[0] || qq >= below.shape[1]) return null;
      return at(below, rr, qq, c);
    };
    for (var r = 0; r < fh; r++) for (var q = 0; q < fw; q++) if (win(r, q) !== null) real.push(win(r, q));
    var isMax = view.mode === "max";
    var cls = function (r, q, v) { return v === null ? "pad" : (isMax && v === value ? "max" : ""); };
    var html = title(view, h, w, c, "A") +
      '<p class="where">Its window: rows ' + r0 + ".." + (r0 + fh - 1) + ", columns " + c0 + ".." + (c0 + fw - 1) +
      " of channel " + c + " of layer " + below.index + " · " + escapeHtml(below.name) + " (outlined there)" +
      (real.length < fh * fw ? "; cells outside the input (pad) take no part" : "") + ":</p>" +
      table(fh, fw, win, cls, "window", c);
    if (isMax) {
      var ties = real.filter(function (v) { return v === value; }).length;
      html += result("max of the window", value) +
        '<p class="note">The maximum, marked green' + (ties > 1 ? " (" + ties + " cells hold it: each would receive the whole gradient)" : "") +
        "; the value is pool_forward's, mode \"max\".</p>";
    } else {
      html += result("mean of the " + real.length + " cells = (" + real.map(fmt).join(" + ") + ") / " + real.length, value) +
        '<p class="note">The value is pool_forward\'s, mode "average".</p>';
    }
    return html;
  }

  function showFilter(pos, c, node) {
    var view = views[pos], s = view.W_shape, panel = document.getElementById("panel");
    clearMarks();
    node.classList.add("chosen");
    var html = "<h2>One output, worked out</h2><h3>Filter " + c + " of layer " + view.index + " · " + escapeHtml(view.name) +
      '</h3><div class="pairs">';
    for (var k = 0; k < s[2]; k++) {
      html += '<div class="pair"><span class="tag">W[:, :, ' + k + ", " + c + "]</span>" +
        table(s[0], s[1], function (r, q) { return weight(view, r, q, k, c); }, null, "filter", k) + "</div>";
    }
    html += '</div><p class="formula">b[' + c + "] = " + fmt(view.bv[c]) + "</p>" +
      '<p class="note">Click a cell of channel ' + c + " of layer " + view.index + " to see this filter at work.</p>";
    panel.innerHTML = html;
  }
})();
