// Live queue: new handoffs appear without reloading (server-sent events); on a
// handoff's page, the delivery state of its replies and hand-backs follows live.
// Everything from the server is inserted as text, never as HTML.
(function () {
  var live = document.getElementById("live");
  var table = document.getElementById("queue");
  if (!live || !table || !window.EventSource) { return; }
  var body = table.tBodies[0];
  var source = new EventSource("/console/events?after=" + encodeURIComponent(live.dataset.after || "0"));

  function cell(row, text) { var td = row.insertCell(-1); td.textContent = text == null ? "" : String(text); return td; }

  source.addEventListener("handoff", function (event) {
    var h = JSON.parse(event.data);
    var empty = body.querySelector("tr.empty");
    if (empty) { empty.remove(); }
    var row = body.insertRow(-1);
    row.className = "fresh status-" + h.status + " priority-" + h.priority;
    row.dataset.id = h.id;
    var idCell = row.insertCell(-1);
    var link = document.createElement("a");
    link.href = "/console/handoffs/" + encodeURIComponent(h.id);
    link.textContent = h.id;
    idCell.appendChild(link);
    cell(row, h.created_label);
    var slaCell = row.insertCell(-1);
    var badge = document.createElement("span");
    badge.className = "badge sla-" + h.sla;
    badge.textContent = h.sla_label;
    slaCell.appendChild(badge);
    cell(row, h.priority_label);
    cell(row, h.channel_label);
    cell(row, h.topic_label);
    cell(row, h.customer_label + " " + (h.sender || ""));
    cell(row, h.subject_label);
    cell(row, h.status_label);
    live.textContent = h.new_label;
  });
})();

(function () {
  var list = document.getElementById("deliveries");
  if (!list || !window.EventSource) { return; }
  var source = new EventSource("/console/events?handoff=" + encodeURIComponent(list.dataset.handoff || ""));

  source.addEventListener("delivery", function (event) {
    var d = JSON.parse(event.data);
    var id = String(Number(d.id));
    var item = list.querySelector('li[data-id="' + id + '"]');
    if (!item) {
      item = document.createElement("li");
      item.dataset.id = id;
      var what = document.createElement("span");
      what.className = "what";
      what.textContent = d.what;
      item.appendChild(what);
      item.appendChild(document.createTextNode(" · "));
      var state = document.createElement("span");
      state.className = "delivery-status";
      item.appendChild(state);
      list.appendChild(item);
    }
    item.className = "delivery status-" + d.status;
    item.querySelector(".delivery-status").textContent = d.label;
  });
})();
