// Creating an extract function from the functions page: its name and its output schema, which a
// sample file can propose (POST /v3/infer-schema) before it is created (POST /v2/functions).

import { post, upload } from "../api.js";
import { errorBox, h, route } from "../dom.js";

const NAME = "[a-zA-Z0-9_\\-]{1,128}"; // letters, digits, _ and - (an input pattern is whole-value and in v mode)

export function newFunctionForm() {
  const status = h("p", { class: "muted", role: "status" });
  const schema = h("textarea", { name: "outputSchema", rows: 14, required: true, spellcheck: "false", "aria-label": "Output schema" });
  const schemaName = h("input", { name: "outputSchemaName", value: "Document", required: true, maxlength: 256 });
  const sample = h("input", {
    type: "file",
    name: "sample",
    onchange: async () => {
      const [file] = sample.files;
      if (!file) return;
      status.replaceChildren(`Reading ${file.name}…`);
      try {
        const { analysis } = await upload("/v3/infer-schema", "file", file);
        schema.value = JSON.stringify(analysis.schema, null, 2);
        if (analysis.schema.title) schemaName.value = analysis.schema.title.replace(/\W+/g, "") || "Document";
        status.replaceChildren(`Inferred from ${analysis.fileName}: ${analysis.description}`);
      } catch (error) {
        status.replaceChildren(errorBox(error.message));
      }
    },
  });
  return h(
    "details",
    { class: "new-function" },
    h("summary", {}, "New extract function"),
    h(
      "form",
      {
        onsubmit: async (submitted) => {
          submitted.preventDefault();
          const form = new FormData(submitted.target);
          let outputSchema;
          try {
            outputSchema = JSON.parse(String(form.get("outputSchema")));
          } catch (error) {
            return status.replaceChildren(errorBox(`The output schema is not JSON: ${error.message}`));
          }
          const functionName = String(form.get("functionName")).trim();
          try {
            const body = { functionName, type: "transform", outputSchemaName: String(form.get("outputSchemaName")).trim(), outputSchema };
            await post("/v2/functions", body);
            location.hash = route("functions", functionName);
          } catch (error) {
            status.replaceChildren(errorBox(error.message));
          }
        },
      },
      h("label", {}, "Name ", h("input", { name: "functionName", required: true, pattern: NAME, placeholder: "invoice-extractor" })),
      h("label", {}, "Infer the schema from a sample file ", sample),
      status,
      h("label", { class: "stacked" }, "Output schema (JSON Schema)", schema),
      h("label", {}, "Output schema name ", schemaName),
      h("button", { type: "submit" }, "Create function"),
    ),
  );
}
