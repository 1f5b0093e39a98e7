// Starts Swagger UI on /docs. A file of its own, not an inline script: the page's
// Content-Security-Policy allows scripts from this origin only.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default validator badge loads an image from swagger.io: no requests leave this origin.
    validatorUrl: null,
  });
});
