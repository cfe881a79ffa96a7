/* Forms marked data-confirm ask before they are sent (no inline handlers: see the CSP). */
document.addEventListener('submit', function (event) {
  var message = event.target.getAttribute && event.target.getAttribute('data-confirm');
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
