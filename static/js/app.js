/* Small behaviours of Shop Insights' pages, kept out of the HTML so the Content-Security-Policy
 * can forbid inline script.
 *
 * <select data-autosubmit>: choosing an option submits its form (the shop and language switchers;
 * each has a <noscript> button for browsers without JavaScript).
 */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
  });
})();
