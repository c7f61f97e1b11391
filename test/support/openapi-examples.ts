/**
 * What the OpenAPI tests share (test/logic/openapi-document.test.ts in Node,
 * test/integration/openapi.test.ts in workerd): a JSON Schema validator over the document, and
 * the example requests and responses README.md shows: the bodies of its curl commands (`-d '…'`,
 * and `-d "…"` with the shell variables its code block sets), supabase-js `body: {…}` objects,
 * `# {…}` answers after a curl, and inline `{"action"…}` / `{"success"…}` code spans. An example
 * that is not JSON (`…` and `<CODE>` placeholders) is kept as skipped, with the reason, so that a
 * test can say how many it checked.
 */
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/**
 * Validates values against the schemas of an OpenAPI 3.1 document, found by their JSON pointer
 * in it (`["components", "schemas", "StatusData"]`): its `$ref`s resolve within the document.
 * JSON Schema 2020-12, the dialect of OpenAPI 3.1; formats checked (date-time, uuid). Not
 * strict: OpenAPI's own keywords (`discriminator`, `x-…`) are no JSON Schema keywords.
 */
export function documentSchemas(document: object): (pointer: string[]) => (value: unknown) => string[] {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(document, "openapi.json");
  return (pointer) => {
    const key = `openapi.json#${pointer.map((token) => `/${encodeURIComponent(token.replace(/~/g, "~0").replace(/\//g, "~1"))}`).join("")}`;
    const validate = ajv.getSchema(key);
    if (!validate) throw new Error(`no schema at ${key}`);
    return (value) => (validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || "(root)"} ${error.message} ${JSON.stringify(error.params)}`));
  };
}

export interface ReadmeExample {
  kind: "request" | "response";
  /** README.md's line where the example starts. */
  line: number;
  text: string;
  /** The parsed example, unless it was skipped. */
  json?: unknown;
  skipped?: string;
}

export function readmeExamples(readme: string): ReadmeExample[] {
  const examples: ReadmeExample[] = [];
  const lineAt = (index: number) => readme.slice(0, index).split("\n").length;
  const add = (kind: ReadmeExample["kind"], index: number, text: string, toJson: (text: string) => string = (t) => t) => {
    try {
      examples.push({ kind, line: lineAt(index), text, json: JSON.parse(toJson(text)) });
    } catch {
      examples.push({ kind, line: lineAt(index), text, skipped: "not JSON (placeholders)" });
    }
  };

  const fences = [...readme.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)];
  for (const fence of fences) {
    const [, language, block] = fence;
    const at = fence.index + fence[0].indexOf(block!);
    if (language === "bash" || language === "sh") {
      for (const curl of block!.matchAll(/-d '([^']*)'/g)) add("request", at + curl.index, curl[1]!);
      const variables = shellVariables(block!);
      for (const curl of block!.matchAll(/-d "((?:[^"\\]|\\.)*)"/g)) {
        const text = curl[1]!.replace(/\\(.)/g, "$1");
        const unknown = [...text.matchAll(/\$(\w+)/g)].map((m) => m[1]!).filter((name) => !variables.has(name));
        if (unknown.length > 0) examples.push({ kind: "request", line: lineAt(at + curl.index), text, skipped: `shell variables ${unknown.join(", ")}` });
        else add("request", at + curl.index, text.replace(/\$(\w+)/g, (_, name: string) => variables.get(name)!));
      }
      // An answer shown as a comment after the curl: `# {…}` and its `#   …` continuation lines.
      for (const answer of block!.matchAll(/^# (\{.*(?:\n#   .*)*)/gm)) add("response", at + answer.index, answer[1]!.replace(/\n#\s+/g, " "));
    }
    if (language === "ts" || language === "js") {
      for (const body of block!.matchAll(/\bbody: (\{.*\})\s*,?\s*$/gm)) add("request", at + body.index, body[1]!, quoteKeys);
    }
  }

  // Code spans outside the fences, which may wrap over a line.
  let prose = readme;
  for (const fence of fences) prose = prose.replace(fence[0], fence[0].replace(/[^\n]/g, " "));
  for (const span of prose.matchAll(/`(\{"(?:action|success)"[^`]*)`/g)) {
    add(span[1]!.startsWith('{"action"') ? "request" : "response", span.index, span[1]!.replace(/\s*\n\s*/g, " "));
  }
  return examples.sort((a, b) => a.line - b.line);
}

/** What a README code block sets its shell variables to: `T=$(uuidgen …)` a UUID, `for m in "a" "b"` its first value. */
function shellVariables(block: string): Map<string, string> {
  const variables = new Map<string, string>();
  for (const [, name] of block.matchAll(/^\s*(\w+)=\$\(uuidgen\b/gm)) variables.set(name!, crypto.randomUUID());
  for (const [, name, first] of block.matchAll(/\bfor (\w+) in "([^"]*)"/g)) variables.set(name!, first!);
  return variables;
}

/** A JS object literal as JSON: its bare keys quoted. */
const quoteKeys = (literal: string) => literal.replace(/([{,]\s*)([A-Za-z_$][\w$]*)\s*:/g, '$1"$2":');
