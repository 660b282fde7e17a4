// Tessera console: progressive enhancement only (every page works without it).
"use strict";
(function () {
  function csrf() {
    var f = document.querySelector('input[name="csrf"]');
    return f ? f.value : "";
  }

  // Create-role wizard: one step at a time.
  var wizard = document.querySelector("form.wizard");
  if (wizard) {
    var steps = Array.prototype.slice.call(wizard.querySelectorAll(".step"));
    var current = 0;
    var show = function (i) {
      current = i;
      steps.forEach(function (s, n) { s.hidden = n !== i; });
    };
    wizard.addEventListener("click", function (e) {
      var t = e.target;
      if (t.classList.contains("next") && current < steps.length - 1) { e.preventDefault(); show(current + 1); }
      if (t.classList.contains("prev") && current > 0) { e.preventDefault(); show(current - 1); }
    });
    var thisAccount = document.getElementById("this-account");
    var trusted = document.getElementById("trusted-account");
    if (thisAccount && trusted) {
      wizard.addEventListener("change", function (e) {
        if (e.target.name === "which") {
          trusted.disabled = thisAccount.checked;
          if (thisAccount.checked) { trusted.value = thisAccount.getAttribute("data-account"); }
        }
      });
    }
    // Steps with an error message stay all visible.
    if (!document.querySelector(".alert.error")) { show(0); }
  }

  // Table filters.
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    if (!table) { return; }
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        row.hidden = q !== "" && row.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  });

  // Policy editor: validate with the policy engine as the user types.
  var editor = document.getElementById("policy-document");
  var out = document.getElementById("policy-findings");
  if (editor && out) {
    var timer = null;
    var seq = 0;
    var render = function (result) {
      out.textContent = "";
      var summary = document.createElement("p");
      summary.className = result.valid ? "ok" : "ERROR";
      summary.textContent = result.valid
        ? (result.findings.length ? "No errors (see the warnings below)." : "No findings: the policy is valid.")
        : "The policy has errors:";
      out.appendChild(summary);
      if (!result.findings.length) { return; }
      var ul = document.createElement("ul");
      result.findings.forEach(function (f) {
        var li = document.createElement("li");
        li.className = f.severity;
        li.textContent = f.severity + " " + f.code + (f.location ? " at " + f.location : "") + ": " + f.message;
        ul.appendChild(li);
      });
      out.appendChild(ul);
    };
    var check = function () {
      var mine = ++seq;
      var body = new URLSearchParams();
      body.set("document", editor.value);
      fetch(editor.getAttribute("data-validate"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf() },
        body: body.toString()
      }).then(function (r) { return r.json(); }).then(function (result) {
        if (mine === seq) { render(result); }
      }).catch(function () {});
    };
    editor.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    });
    check();
  }
})();
