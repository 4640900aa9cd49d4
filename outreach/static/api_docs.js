// Renders /api/v1/openapi.json as a readable list of operations, parameters and schemas.
(function () {
  "use strict";
  var root = document.getElementById("api-docs");
  if (!root) return;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function refName(ref) {
    return ref.split("/").pop();
  }

  function typeText(schema) {
    if (!schema) return "";
    if (schema.$ref) return refName(schema.$ref);
    if (schema.type === "array") return "array of " + typeText(schema.items);
    var text = schema.type || "object";
    if (schema.format) text += " (" + schema.format + ")";
    if (schema.enum) text += ": " + schema.enum.join(" | ");
    if (schema.nullable) text += ", or null";
    return text;
  }

  function schemaTable(schema) {
    var table = el("table", "table table-sm");
    var body = el("tbody");
    var required = schema.required || [];
    Object.keys(schema.properties || {}).forEach(function (name) {
      var prop = schema.properties[name];
      var row = el("tr");
      row.appendChild(el("td", "font-monospace", name + (required.indexOf(name) >= 0 ? " *" : "")));
      row.appendChild(el("td", "", typeText(prop)));
      row.appendChild(el("td", "text-body-secondary", prop.description || ""));
      body.appendChild(row);
    });
    table.appendChild(body);
    return table;
  }

  function operationCard(method, path, op) {
    var card = el("section", "card mb-3");
    var header = el("div", "card-header");
    header.appendChild(el("span", "badge text-bg-primary me-2", method.toUpperCase()));
    header.appendChild(el("code", "", path));
    if (op.security && op.security.length === 0) header.appendChild(el("span", "badge text-bg-light ms-2", "public"));
    card.appendChild(header);
    var body = el("div", "card-body");
    body.appendChild(el("p", "", op.summary || ""));
    if (op.parameters && op.parameters.length) {
      body.appendChild(el("h3", "h6", "Parameters"));
      var list = el("ul");
      op.parameters.forEach(function (param) {
        var item = el("li");
        item.appendChild(el("code", "", param.name));
        item.appendChild(document.createTextNode(" (" + param.in + ", " + typeText(param.schema) + ") " + (param.description || "")));
        list.appendChild(item);
      });
      body.appendChild(list);
    }
    if (op.requestBody) {
      var types = Object.keys(op.requestBody.content);
      body.appendChild(el("h3", "h6", "Body (" + types.join(", ") + ")"));
      body.appendChild(el("p", "", typeText(op.requestBody.content[types[0]].schema)));
    }
    body.appendChild(el("h3", "h6", "Responses"));
    var responses = el("ul");
    Object.keys(op.responses).forEach(function (status) {
      var response = op.responses[status];
      var content = response.content && response.content["application/json"];
      responses.appendChild(el("li", "", status + " — " + response.description + (content ? " → " + typeText(content.schema) : "")));
    });
    body.appendChild(responses);
    card.appendChild(body);
    return card;
  }

  function render(spec) {
    root.textContent = "";
    root.appendChild(el("p", "", spec.info.description));
    var pathsHeading = el("h2", "h4 mt-4", "Operations");
    root.appendChild(pathsHeading);
    Object.keys(spec.paths).forEach(function (path) {
      var item = spec.paths[path];
      ["get", "post", "patch", "delete"].forEach(function (method) {
        if (item[method]) {
          var op = Object.assign({}, item[method]);
          op.parameters = (item.parameters || []).concat(op.parameters || []);
          root.appendChild(operationCard(method, path, op));
        }
      });
    });
    root.appendChild(el("h2", "h4 mt-4", "Schemas"));
    var schemas = spec.components.schemas;
    Object.keys(schemas).forEach(function (name) {
      root.appendChild(el("h3", "h5 mt-3", name));
      root.appendChild(schemaTable(schemas[name]));
    });
  }

  fetch(root.getAttribute("data-spec-url"))
    .then(function (response) { return response.json(); })
    .then(render)
    .catch(function () {
      root.textContent = "The API description could not be loaded.";
    });
})();
