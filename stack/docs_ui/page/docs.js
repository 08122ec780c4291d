// One Swagger UI per OpenAPI document, both on this page (index.html names each document's URL).
"use strict";
document.querySelectorAll("[data-openapi]").forEach(function (element) {
  SwaggerUIBundle({
    url: element.dataset.openapi,
    domNode: element,
    // Two instances share the page: deep links would fight over the URL fragment.
    deepLinking: false,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    // null: no badge fetched from the public validator service.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
