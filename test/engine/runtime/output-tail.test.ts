import { describe, expect, it } from "vitest";
import { OutputTail } from "../../../engine/runtime/process/output-tail.js";
import { secretForms } from "../../../engine/runtime/process/secret-forms.js";

const SECRET = "s3cr3t-value-with-\"quote\"-and-\\";
const PEM = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\nEEEEFFFFGGGG\n-----END KEY-----";

describe("OutputTail redaction", () => {
  it("redacts a secret split across two reads, raw, JSON-escaped, inspected and in base64", () => {
    const tail = new OutputTail(20, [SECRET]);
    const line = `raw=${SECRET} json=${JSON.stringify(SECRET)} b64=${Buffer.from(SECRET).toString("base64")}\n`;
    tail.append(line.slice(0, 10));
    tail.append(line.slice(10));
    tail.append(`${JSON.stringify({ S: SECRET })}\n`);
    const text = tail.text();
    expect(text).not.toContain("s3cr3t");
    expect(text).not.toContain(Buffer.from(SECRET).toString("base64"));
    expect(text.match(/\[REDACTED\]/g)?.length).toBe(4);
  });

  it("redacts each line of a multi-line secret printed as is", () => {
    const tail = new OutputTail(20, [PEM]);
    tail.append(`key:\n${PEM}\ndone\n`);
    expect(tail.text()).not.toMatch(/AAAABBBB|EEEEFFFF/);
    expect(tail.text()).toContain("done");
  });

  it("cuts a partial last line that ends in the start of a secret", () => {
    const tail = new OutputTail(20, [SECRET]);
    tail.append(`about to print ${SECRET.slice(0, 12)}`);
    expect(tail.text()).toBe("about to print […]");
  });

  it("shortens a long line and drops a line too long to redact safely, saying so", () => {
    const tail = new OutputTail(20, []);
    tail.append(`${"x".repeat(10_000)}\n`);
    expect(tail.text()).toMatch(/^x{1000}… \[9000 more characters\]$/);
    const huge = new OutputTail(20, []);
    huge.append("y".repeat(70_000));
    huge.append("y".repeat(1_000));
    huge.append("z\nafter\n");
    expect(huge.text()).toBe("[a line of 71001 characters without a newline, not kept]\nafter");
  });

  it("ignores empty secrets and short lines of multi-line ones", () => {
    expect(secretForms(["", "ab\n}\nlonger-line"])).not.toContain("}");
    expect(secretForms([""])).toEqual([]);
  });
});
