/** The CLI's argument parsers (commander's argParser): JSON given inline, as @file, or - for stdin; integers. */
import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "commander";

/** `{"a": 1}` as it is, `@job.json` a file's contents, `-` standard input. */
export function readJsonArgument(text: string): unknown {
  let source = text;
  let where = "the argument";
  try {
    if (text === "-") {
      source = readFileSync(0, "utf8");
      where = "standard input";
    } else if (text.startsWith("@")) {
      source = readFileSync(text.slice(1), "utf8");
      where = text.slice(1);
    }
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${text === "-" ? "standard input" : text.slice(1)}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(source) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`${where} is not JSON (${(error as Error).message}); give JSON, @file.json, or - for standard input`);
  }
}

/** A JSON object (a payload, a config, a context, metadata). */
export function readJsonObject(text: string): Record<string, unknown> {
  const value = readJsonArgument(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InvalidArgumentError("must be a JSON object");
  return value as Record<string, unknown>;
}

export function readInteger(text: string): number {
  const value = Number(text);
  if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(value)) throw new InvalidArgumentError("must be an integer");
  return value;
}

/** A JSON array (enqueue-batch's jobs). */
export function readJsonArray<T>(text: string): T[] {
  const value = readJsonArgument(text);
  if (!Array.isArray(value)) throw new InvalidArgumentError("must be a JSON array");
  return value as T[];
}
