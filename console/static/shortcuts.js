// Keyboard shortcuts on a handoff's page (documented on the page itself):
//   Alt+Shift+C claim · Alt+Shift+A reply field · Ctrl+Enter (in the reply) send ·
//   Alt+Shift+E resolve · "/" search.
// Text modules and knowledge-base articles: choosing one inserts its text (filled on the
// server) at the cursor of the reply. No inline script: this file is served by the console.
(function () {
  function click(id) { var el = document.getElementById(id); if (el) { el.click(); return true; } return false; }
  var reply = document.getElementById("reply-text");
  document.addEventListener("keydown", function (event) {
    var key = (event.key || "").toLowerCase();
    var typing = /^(input|textarea|select)$/i.test((event.target && event.target.tagName) || "");
    if (event.altKey && event.shiftKey) {
      if (key === "c" && click("claim")) { event.preventDefault(); }
      else if (key === "e" && click("resolve")) { event.preventDefault(); }
      else if (key === "a" && reply) { reply.focus(); event.preventDefault(); }
    } else if ((event.ctrlKey || event.metaKey) && key === "enter" && event.target === reply) {
      if (click("send-reply")) { event.preventDefault(); }
    } else if (key === "/" && !typing) {
      var search = document.getElementById("search-q");
      if (search) { search.focus(); event.preventDefault(); }
    }
  });
  var selects = document.querySelectorAll("select.insert-text");
  Array.prototype.forEach.call(selects, function (select) {
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      if (!reply || !option || !option.dataset.text) { return; }
      var text = option.dataset.text;
      var start = reply.selectionStart || 0, end = reply.selectionEnd || 0;
      reply.value = reply.value.slice(0, start) + text + reply.value.slice(end);
      reply.focus();
      reply.selectionStart = reply.selectionEnd = start + text.length;
      select.selectedIndex = 0;
    });
  });
})();
