// After a failed save, move focus to the error summary so screen readers and keyboards start there.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }
});
